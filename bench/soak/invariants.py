"""What must hold after the soak, and how each is measured (by conditions, never by timing).

- no update lost: every task a master launched reached a terminal state, the
  scheduler saw that terminal update, and the leader holds no unacknowledged update
  (:func:`ledger`, run where the cluster is);
- no TEARDOWN: no master ever received one (the soak stops its drivers with failover);
- no exception reached the main thread: pymesos re-raises a driver's error in the main
  thread through ``_thread.interrupt_main`` (a SIGINT): :class:`Guard` patches it to
  record instead, records every uncaught thread exception (``threading.excepthook``) and
  unraisable one (``sys.unraisablehook``); each driver's ``failure`` must be None;
- logins explained: the IAM's successful logins per account stay within what the
  executed faults explain (:func:`login_budget`);
- flat resources: open file descriptors, threads and resident memory of this process
  (the drivers' process: the fakes run in another), sampled all along
  (:class:`Sampler`), are the same, within a stated tolerance, in the last tenth of the
  chaos as in the first.
"""

from __future__ import annotations

import _thread
import logging
import math
import os
import statistics
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from bench.soak.faults import leader_index, masters, recorded_history

__all__ = ["Guard", "LogTally", "Row", "Sampler", "ledger", "login_budget", "resource_rows"]

#: Anomalies listed per invariant at most.
SHOWN = 10


@dataclass
class Row:
    """One line of the result table."""

    name: str
    ok: bool
    figures: str
    details: List[str] = field(default_factory=list)


# -- the main thread and the other threads -------------------------------------------------------


class Guard:
    """Records what would reach the main thread, or kill a thread, instead of letting it.

    ``_thread.interrupt_main`` is what pymesos calls to re-raise a driver's error in the
    main thread (``pymesos/process.py``, ``Process._run``): patched, it only records
    who called it. Uncaught exceptions of any thread and unraisable exceptions are
    recorded through ``threading.excepthook`` and ``sys.unraisablehook``.
    """

    def __init__(self) -> None:
        self.interrupts: List[str] = []
        self.thread_exceptions: List[str] = []
        self.unraisable: List[str] = []
        self._lock = threading.Lock()
        self._saved: Tuple[Any, ...] = ()

    def __enter__(self) -> Guard:
        self._saved = (_thread.interrupt_main, threading.excepthook, sys.unraisablehook)
        _thread.interrupt_main = self._interrupt_main
        threading.excepthook = self._excepthook
        sys.unraisablehook = self._unraisablehook
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _thread.interrupt_main, threading.excepthook, sys.unraisablehook = self._saved

    def _interrupt_main(self, *args: Any) -> None:
        where = "".join(traceback.format_stack(limit=6)[:-1])
        with self._lock:
            self.interrupts.append(f"interrupt_main() from {threading.current_thread().name}:\n{where}")

    def _excepthook(self, args: Any) -> None:
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))
        with self._lock:
            name = args.thread.name if args.thread is not None else "?"
            self.thread_exceptions.append(f"thread {name}: {text}")

    def _unraisablehook(self, unraisable: Any) -> None:
        text = "".join(traceback.format_exception(unraisable.exc_type, unraisable.exc_value, unraisable.exc_traceback))
        with self._lock:
            self.unraisable.append(f"{unraisable.err_msg or 'unraisable'} {unraisable.object!r}: {text}")

    def row(self, failures: Dict[str, Optional[BaseException]]) -> Row:
        failed = {name: repr(exc) for name, exc in failures.items() if exc is not None}
        with self._lock:
            details = [*self.interrupts, *self.thread_exceptions, *self.unraisable]
            figures = (
                f"interrupt_main {len(self.interrupts)}, thread exceptions {len(self.thread_exceptions)}, "
                f"unraisable {len(self.unraisable)}, driver failures {len(failed)}"
            )
        details += [f"{name}: driver.failure = {text}" for name, text in failed.items()]
        return Row("no exception reached the main thread", not details, figures, details[:SHOWN])


class LogTally(logging.Handler):
    """Counts warnings and errors by logger and message template (bounded), printing none.

    The drivers log every re-subscription and refused call at WARNING: under ten
    thousand faults that is the expected noise, counted rather than shown.
    """

    MAX_KEYS = 200

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.counts: Counter[Tuple[str, str, str]] = Counter()
        self.first: Dict[Tuple[str, str, str], str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = (record.levelname, record.name, str(record.msg)[:120])
        if key not in self.counts and len(self.counts) >= self.MAX_KEYS:
            key = (record.levelname, record.name, "(other messages)")
        self.counts[key] += 1
        if key not in self.first:
            try:
                self.first[key] = record.getMessage()[:300]
            except Exception:
                self.first[key] = str(record.msg)[:300]

    def errors(self) -> List[Tuple[int, str]]:
        return sorted(
            (
                (n, f"{name}: {self.first.get(key, msg)}")
                for key, n in self.counts.items()
                for _, name, msg in [key]
                if key[0] in ("ERROR", "CRITICAL")
            ),
            reverse=True,
        )


# -- resources -------------------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


@dataclass(frozen=True)
class Sample:
    at: float
    fds: int
    threads: int
    rss_kib: int


class Sampler:
    """Samples fds, threads and RSS every ``interval`` seconds on one thread of its own."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.samples: List[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak sampler", daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)

    def take(self) -> Sample:
        # The sampler's own thread is running throughout, so it is counted at both ends alike.
        return Sample(time.monotonic(), open_fds(), threading.active_count(), rss_kib())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.take())
            self._stop.wait(self.interval)


@dataclass(frozen=True)
class Tolerance:
    """How much higher the last tenth may be than the first (said in the output)."""

    fds: int
    threads: int
    rss_kib: int
    rss_fraction: float

    def describe(self) -> str:
        return (
            f"tolerance: fds +{self.fds}, threads +{self.threads}, "
            f"RSS +max({self.rss_kib // 1024} MiB, {self.rss_fraction:.0%})"
        )


def tolerance_for(frameworks: int) -> Tolerance:
    # Each framework may hold, at a sampling instant, an extra connection or two (a
    # re-subscription racing the old stream's close, a login): that is churn, not a leak.
    return Tolerance(fds=4 + 3 * frameworks, threads=2 + frameworks, rss_kib=24 * 1024, rss_fraction=0.15)


def resource_rows(samples: Sequence[Sample], start: float, end: float, tolerance: Tolerance) -> List[Row]:
    """Compare the first and last tenth of [start, end]: fds and threads by their maximum, RSS by its median."""
    span = end - start
    first = [s for s in samples if start <= s.at <= start + span / 10]
    last = [s for s in samples if end - span / 10 <= s.at <= end]
    if not first or not last:
        return [Row("resources flat", False, f"too few samples ({len(samples)}) to compare", [])]
    rows = []
    for name, field_name, allowed in (
        ("file descriptors flat", "fds", tolerance.fds),
        ("threads flat", "threads", tolerance.threads),
    ):
        before = max(getattr(s, field_name) for s in first)
        after = max(getattr(s, field_name) for s in last)
        rows.append(Row(name, after <= before + allowed, f"first tenth max {before}, last tenth max {after}", []))
    before_rss = statistics.median(s.rss_kib for s in first)
    after_rss = statistics.median(s.rss_kib for s in last)
    allowed_rss = max(tolerance.rss_kib, tolerance.rss_fraction * before_rss)
    rows.append(
        Row(
            "memory (RSS) flat",
            after_rss <= before_rss + allowed_rss,
            f"first tenth median {before_rss / 1024:.1f} MiB, last tenth median {after_rss / 1024:.1f} MiB "
            f"({(after_rss - before_rss) / 1024:+.1f} MiB)",
            [],
        )
    )
    return rows


# -- the cluster side (run where the cluster is) ----------------------------------------------------


def ledger(cluster: Any, prefixes: Sequence[str], uids: Sequence[str]) -> Dict[str, Any]:
    """What the masters and the IAM know, summed up: small enough to send back.

    Per framework (tasks are named ``<prefix>-<n>``): tasks launched on any master (an
    agent took them: ``TASK_STAGING`` seen), those that reached a terminal state on
    any master, those that never did (from ``faults.TaskHistory``: masters that lost
    the lead forgot theirs), and the leader's unacknowledged updates.
    """
    every = masters(cluster)
    leader = leader_index(cluster)
    seen = recorded_history(cluster)
    launched: Dict[str, Set[str]] = {p: set() for p in prefixes}
    terminal: Dict[str, Set[str]] = {p: set() for p in prefixes}
    for task_id in seen.launched:
        prefix = task_id.split("-", 1)[0]
        if prefix in launched:
            launched[prefix].add(task_id)
            if task_id in seen.terminal:
                terminal[prefix].add(task_id)
    unacked: Dict[str, List[Tuple[str, int, str]]] = {p: [] for p in prefixes}
    unacked_total = 0
    for task_id, record in every[leader].task_records.items():
        prefix = task_id.split("-", 1)[0]
        if record.unacknowledged and prefix in unacked:
            unacked_total += record.unacknowledged
            unacked[prefix].append((task_id, record.unacknowledged, record.state))
    frameworks = {
        fid: {"state": fw.state, "subscribe_count": fw.subscribe_count, "name": fw.name}
        for fid, fw in every[leader].frameworks.items()
    }
    iam = cluster.iam
    return {
        "leader": leader,
        "frameworks": frameworks,
        "per_framework": {
            p: {
                "launched": len(launched[p]),
                "terminal": len(terminal[p]),
                "stuck": sorted(launched[p] - terminal[p])[:SHOWN],
                "stuck_count": len(launched[p] - terminal[p]),
                "unacked": sorted(unacked[p])[:SHOWN],
                "unacked_count": sum(n for _, n, _ in unacked[p]),
            }
            for p in prefixes
        },
        "unacked_total": unacked_total,
        "teardowns": [len(m.calls_of_type("TEARDOWN")) for m in every],
        "requests": [len(m.requests) for m in every],
        "logins": {uid: iam.logins_for(uid) for uid in uids},
        "login_count": iam.login_count,
        "login_attempts": iam.login_attempts,
    }


def known_tasks(cluster: Any, task_ids: Sequence[str]) -> Dict[str, List[Tuple[int, Tuple[str, ...], int]]]:
    """For each task id: (master index, states, unacknowledged) on every master that knows it."""
    found: Dict[str, List[Tuple[int, Tuple[str, ...], int]]] = {t: [] for t in task_ids}
    for index, master in enumerate(masters(cluster)):
        records = master.task_records
        for task_id in task_ids:
            record = records.get(task_id)
            if record is not None:
                found[task_id].append((index, record.states, record.unacknowledged))
    return found


def settled(cluster: Any, framework_ids: Sequence[str], prefixes: Sequence[str]) -> Dict[str, Any]:
    """Cheap look for the quiet period: which frameworks are subscribed at the leader, and
    how many updates of each framework's tasks (``<prefix>-<n>``) are unacknowledged there."""
    leader = masters(cluster)[leader_index(cluster)]
    frameworks = leader.frameworks
    unacked = dict.fromkeys(prefixes, 0)
    for task_id, record in leader.task_records.items():
        prefix = task_id.split("-", 1)[0]
        if record.unacknowledged and prefix in unacked:
            unacked[prefix] += record.unacknowledged
    subscribed = [fid in frameworks and frameworks[fid].state == "subscribed" for fid in framework_ids]
    return {"subscribed": subscribed, "unacked": unacked}


# -- logins --------------------------------------------------------------------------------------


def login_budget(
    executed: Iterable[Tuple[str, Dict[str, Any], Any]],
    uids: Sequence[str],
    duration: float,
    token_lifetime: float,
) -> Tuple[Dict[str, int], int, Dict[str, str]]:
    """The logins the executed faults explain: (per account, shared by all, how each is made up).

    Per account: 1 to start, 1 per natural refresh (the TokenProvider refreshes when a
    fifth of the token's life is left, so at most every 0.8 lifetimes), 1 per revocation
    of its tokens, 1 per IAM clock jump (every token expires). Shared: 1 per 401 answer
    injected (whoever gets it logs in once). IAM outages (503) and latency add no
    successful login: a failed attempt is retried, and counted only when it succeeds.
    """
    refreshes = math.ceil(duration / (0.8 * token_lifetime)) if token_lifetime > 0 else 0
    revocations: Counter[str] = Counter()
    expiries = 0
    shared = 0
    for kind, params, begun in executed:
        if kind == "revoke":
            revocations[params["uid"]] += 1
        elif kind == "expire":
            expiries += 1
        elif kind in ("unauthorized", "unauthorized_subscribe"):
            shared += int(begun or 0)  # how many 401s were queued (at most n)
    per = {uid: 1 + refreshes + revocations[uid] + expiries for uid in uids}
    how = {uid: f"1 + {refreshes} refresh + {revocations[uid]} revoked + {expiries} expired" for uid in uids}
    return per, shared, how


def login_row(
    logins: Dict[str, int], per: Dict[str, int], shared: int, how: Dict[str, str], attempts: int, total: int
) -> Row:
    over = {uid: n - per[uid] for uid, n in logins.items() if n > per[uid]}
    excess = sum(over.values())
    ok = excess <= shared and sum(logins.values()) <= sum(per.values()) + shared
    details = [f"{uid}: {logins[uid]} logins, budget {per[uid]} ({how[uid]})" for uid in sorted(logins)]
    figures = (
        f"logins {sum(logins.values())} <= budget {sum(per.values())} + {shared} (401s injected); "
        f"above own budget {excess}; IAM attempts {attempts} (failed {attempts - total})"
    )
    return Row("logins explained by the faults", ok, figures, details)


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed; whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
