"""The chaos soak (``bench/soak``): its seeded schedule, its bookkeeping, and a short run.

The short run is the soak itself, cut to a few hundred faults: real drivers (strict
mode, TLS, ``zk://`` to three masters in a real ZooKeeper), a fixed seed, and every
invariant asserted. The invariants are conditions (every update acknowledged, no
TEARDOWN, no exception, logins within budget, resources flat), never timings, so a
slow machine makes the run longer, not red; the whole test is bounded by its timeout.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from typing import Any, Dict, List, Tuple

import pytest

from bench.soak import faults
from bench.soak.invariants import Guard, Row, Sample, login_budget, login_row, resource_rows, tolerance_for
from bench.soak.run import SoakOptions, main, parse_args, report, run_soak
from bench.soak.schedule import KINDS, Settings, digest, make_schedule

#: The short run's seed: fixed, so that a failure names the schedule to replay.
SEED = 20261201
SHORT_FAULTS = 200


# -- the schedule -----------------------------------------------------------------------------


def test_a_seed_names_one_schedule() -> None:
    settings = Settings(frameworks=3)
    first = make_schedule(7, 500, settings)
    again = make_schedule(7, 500, settings)
    other = make_schedule(8, 500, settings)
    assert first == again
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)
    assert [f.index for f in first] == list(range(500))
    assert all(a.at <= b.at for a, b in zip(first, first[1:]))


def test_faults_of_one_group_never_overlap_in_the_plan() -> None:
    schedule = make_schedule(3, 2000, Settings(rate=50.0))
    by_group: Dict[str, List[Any]] = {}
    for fault in schedule:
        if fault.group is not None:
            by_group.setdefault(fault.group, []).append(fault)
    assert set(by_group) == {"iam-latency", "iam-clock", "silence", "restart"}
    for group, planned in by_group.items():
        for before, after in zip(planned, planned[1:]):
            assert after.at >= before.at + before.duration, (group, before.describe(), after.describe())


def test_every_kind_is_drawn_and_has_an_action() -> None:
    assert set(KINDS) == set(faults.ACTIONS)
    for name, kind in KINDS.items():
        action = faults.ACTIONS[name]
        assert (kind.group is not None) == (action.end is not None), name
    counts = Counter(f.kind for f in make_schedule(1, 5000, Settings()))
    assert set(counts) == set(KINDS)


def test_weights_leave_kinds_out_and_refuse_unknown_ones() -> None:
    schedule = make_schedule(1, 300, Settings(), {"failover": 0, "restart": 0})
    assert not {f.kind for f in schedule} & {"failover", "restart"}
    with pytest.raises(ValueError, match="unknown fault kinds"):
        make_schedule(1, 10, Settings(), {"meteor": 1})


def test_the_expiry_shift_stays_within_the_login_token() -> None:
    # Past the auth token's lifetime (every token expired), short of the 180 s login token.
    for fault in make_schedule(5, 3000, Settings(token_lifetime=120.0)):
        if fault.kind == "expire":
            assert 120.0 < fault.params["seconds"] < 180.0


# -- the bookkeeping ---------------------------------------------------------------------------


def test_login_budget_counts_what_each_fault_explains() -> None:
    executed: List[Tuple[str, Dict[str, Any], Any]] = [
        ("revoke", {"uid": "a"}, None),
        ("expire", {"seconds": 125.0}, 125.0),
        ("unauthorized", {"n": 2}, 2),
        ("unauthorized", {"n": 2}, 0),  # merged: nothing queued, nothing explained
        ("unauthorized_subscribe", {}, 1),
        ("drop", {}, 3),
    ]
    per, shared, _ = login_budget(executed, ["a", "b"], duration=100.0, token_lifetime=120.0)
    # 1 to start, 2 refreshes (100 s at most every 0.8 * 120 s), then revocations and expiries.
    assert per == {"a": 1 + 2 + 1 + 1, "b": 1 + 2 + 0 + 1}
    assert shared == 3
    ok = login_row({"a": 5, "b": 3}, per, shared, {"a": "", "b": ""}, attempts=9, total=8)
    assert ok.ok
    too_many = login_row({"a": 12, "b": 3}, per, shared, {"a": "", "b": ""}, attempts=15, total=15)
    assert not too_many.ok


def test_resources_are_flat_within_the_tolerance_only() -> None:
    tolerance = tolerance_for(2)
    flat = [Sample(float(t), 20, 12, 40_000) for t in range(100)]
    assert all(row.ok for row in resource_rows(flat, 0.0, 99.0, tolerance))
    leaking = [Sample(float(t), 20 + t, 12, 40_000 + 1000 * t) for t in range(100)]
    rows = {row.name: row.ok for row in resource_rows(leaking, 0.0, 99.0, tolerance)}
    assert rows == {"file descriptors flat": False, "threads flat": True, "memory (RSS) flat": False}


def test_the_guard_records_what_would_reach_the_main_thread() -> None:
    import _thread

    with Guard() as guard:
        _thread.interrupt_main()  # what pymesos does with a driver's error: recorded, no SIGINT
        thread = threading.Thread(target=lambda: 1 / 0, name="doomed")
        thread.start()
        thread.join()
    row = guard.row({"f": None})
    assert not row.ok
    assert "interrupt_main 1, thread exceptions 1" in row.figures
    assert any("ZeroDivisionError" in detail for detail in row.details)
    assert Guard().row({"f": RuntimeError("stopped")}).ok is False


def test_a_failure_names_the_seed_to_replay() -> None:
    lines: List[str] = []
    options = SoakOptions(seed=42, faults=123)
    report(options, [Row("no TEARDOWN sent", False, "TEARDOWN calls per master [1, 0, 0]")], {}, False, lines.append)
    assert lines[-1].startswith("soak seed 42 FAILED (no TEARDOWN sent); replay with --seed 42")
    assert "--faults 123" in lines[-1]


def test_the_command_line_round_trips_the_replay() -> None:
    options = parse_args(["--seed", "9", "--faults", "50", "--frameworks", "3", "--weights", "failover=5,drop=0"])
    assert (options.seed, options.faults, options.frameworks) == (9, 50, 3)
    assert options.weights == {"failover": 5.0, "drop": 0.0}
    again = parse_args(options.replay().split()[3:])
    assert again == options
    assert parse_args([]).seed is not None  # a random seed, printed first by the run


def test_the_exit_status_is_one_when_an_invariant_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.soak import run as run_module

    def failing(options: SoakOptions, out: Any) -> Any:
        return run_module.SoakResult(options.seed, False, [Row("x", False, "")])

    monkeypatch.setattr(run_module, "run_soak", failing)
    assert main(["--seed", "1", "--faults", "1"]) == 1


# -- the short run ---------------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_short_soak_holds_every_invariant(zookeeper: Any) -> None:
    lines: List[str] = []
    options = SoakOptions(
        seed=SEED,
        faults=SHORT_FAULTS,
        frameworks=2,
        zookeeper_hosts=zookeeper.hosts,
        zookeeper_path=f"/soak-{uuid.uuid4().hex[:8]}",
        progress=0.0,
        settle_timeout=90.0,
    )
    result = run_soak(options, out=lines.append)
    text = "\n".join(lines)
    assert lines[0].startswith(f"soak seed {SEED}"), text
    assert result.ok, text
    assert result.figures["faults"] == SHORT_FAULTS, text
    assert result.figures["tasks_finished"] > 0, text
    assert result.figures["by_kind"].get("failover", 0) > 0, text
    assert result.figures["ledger"]["unacked_total"] == 0, text
