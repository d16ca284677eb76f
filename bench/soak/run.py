"""The soak: frameworks under a steady task load, a seeded schedule of faults, the invariants.

``python -m bench.soak --seed 7 --faults 10000`` (or ``./scripts/bench soak ...``):

1. the seed is printed first, with the command that replays the run;
2. the cluster starts in a process of its own (``host.py``): strict mode, TLS, three
   masters in ZooKeeper, one IAM; each framework gets a service account;
3. the frameworks (``load.py``) subscribe through ``zk://`` and launch tasks;
4. the faults (``schedule.py``, ``faults.py``) run at their planned times, several in
   flight at once;
5. a quiet period: the frameworks stop launching and the soak waits (by condition, up
   to ``--settle-timeout``) until every task is terminal and acknowledged. Where the
   fake master lacks a real agent's status-update retry, a stream drop stands in for
   it; tasks whose launch met an offer that was gone are reconciled, as a framework
   does; both counted (:func:`settle`);
6. the drivers stop with failover (no TEARDOWN), and the invariants
   (``invariants.py``) are printed as a table; the exit status is 1 if any failed,
   with the seed to replay.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import os
import statistics
import sys
import time
from array import array
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from bench.soak import faults
from bench.soak.host import ClusterOptions, LocalCluster, RemoteCluster
from bench.soak.invariants import (
    Guard,
    LogTally,
    Row,
    Sampler,
    known_tasks,
    ledger,
    login_budget,
    login_row,
    resource_rows,
    settled,
    tolerance_for,
    wait_until,
)
from bench.soak.load import Framework
from bench.soak.schedule import KINDS, Fault, Settings, digest, make_schedule

__all__ = ["SoakOptions", "SoakResult", "main", "run_soak"]

Out = Callable[[str], None]

#: Seconds of no progress in the quiet period before a stream drop stands in for the agents' retry.
RESEND_AFTER = 5.0
#: Most such resends in one quiet period.
MAX_RESENDS = 3


@dataclass(frozen=True)
class SoakOptions:
    """One soak: the seed, the schedule's size and rate, the cluster, the load (see ``--help``)."""

    seed: int
    faults: int = 10_000
    frameworks: int = 2
    rate: float = 20.0
    masters: int = 3
    heartbeat_interval: float = 0.2
    allocation_interval: float = 0.05
    token_lifetime: float = 120.0
    tasks_per_offer: int = 1
    max_in_flight: int = 8
    settle_timeout: float = 60.0
    start_timeout: float = 60.0
    in_process: bool = False
    zookeeper_hosts: Optional[str] = None
    zookeeper_path: str = "/mesos"
    progress: float = 10.0
    sample_interval: float = 0.25
    weights: Optional[Dict[str, float]] = None
    log: Optional[str] = None

    def replay(self) -> str:
        """The command that runs this soak again (the options that matter, the seed first)."""
        words = ["python -m bench.soak", f"--seed {self.seed}"]
        defaults = SoakOptions(seed=self.seed)
        for name, flag in (
            ("faults", "--faults"),
            ("frameworks", "--frameworks"),
            ("rate", "--rate"),
            ("masters", "--masters"),
            ("heartbeat_interval", "--heartbeat-interval"),
            ("allocation_interval", "--allocation-interval"),
            ("token_lifetime", "--token-lifetime"),
            ("tasks_per_offer", "--tasks-per-offer"),
            ("max_in_flight", "--max-in-flight"),
        ):
            value = getattr(self, name)
            if value != getattr(defaults, name):
                words.append(f"{flag} {value}")
        if self.weights:
            words.append("--weights " + ",".join(f"{k}={v:g}" for k, v in sorted(self.weights.items())))
        return " ".join(words)

    def settings(self) -> Settings:
        return Settings(
            frameworks=self.frameworks,
            rate=self.rate,
            heartbeat_interval=self.heartbeat_interval,
            token_lifetime=self.token_lifetime,
        )

    def cluster(self) -> ClusterOptions:
        return ClusterOptions(
            frameworks=self.frameworks,
            masters=self.masters,
            heartbeat_interval=self.heartbeat_interval,
            allocation_interval=self.allocation_interval,
            token_lifetime=self.token_lifetime,
            zookeeper_hosts=self.zookeeper_hosts,
            zookeeper_path=self.zookeeper_path,
        )


@dataclass
class SoakResult:
    seed: int
    ok: bool
    rows: List[Row]
    figures: Dict[str, Any] = field(default_factory=dict)


# -- running the faults ---------------------------------------------------------------------------


class FaultRunner:
    """Runs the schedule on one thread: each fault at its planned time (or as soon as its group
    is free, or late when the soak lags), each end at begin + duration."""

    def __init__(self, cluster: Any, schedule: Sequence[Fault], context: Dict[str, Any]) -> None:
        self.cluster = cluster
        self.schedule = list(schedule)
        self.context = context
        # What explains logins (revocations per account, clock jumps, 401s queued), counted:
        # a list of every fault would grow the very memory the soak measures.
        self.causes: Counter[Tuple[str, str]] = Counter()
        self.by_kind: Counter[str] = Counter()
        self.no_ops: Counter[str] = Counter()
        self.errors: List[str] = []
        self.lags = array("d")  # seconds each fault started late: 8 bytes a fault
        self.started_at = 0.0
        self.ended_at = 0.0
        self.done = 0
        self.gave_up = False
        self.skipped = 0

    def run(
        self,
        progress: Optional[Callable[[], None]] = None,
        every: float = 0.0,
        give_up: Callable[[], bool] = lambda: False,
    ) -> None:
        """Run every fault and every end; ``give_up()`` true stops before the next fault
        (the ends of the faults in flight still run, so that the cluster is whole again)."""
        start = self.started_at = time.monotonic()
        ends: List[Tuple[float, int, Fault, Any]] = []
        busy: Dict[str, int] = {}
        following = 0
        next_progress = start + every if every > 0 else float("inf")
        while following < len(self.schedule) or ends:
            now = time.monotonic()
            if now >= next_progress and progress is not None:
                progress()
                next_progress = now + every
            if following < len(self.schedule) and not self.gave_up and give_up():
                self.gave_up = True
                self.skipped = len(self.schedule) - following
                following = len(self.schedule)
            candidate = self.schedule[following] if following < len(self.schedule) else None
            ready = float("inf")
            if candidate is not None and (candidate.group is None or candidate.group not in busy):
                ready = start + candidate.at
            end_due = ends[0][0] if ends else float("inf")
            due = min(ready, end_due)
            if due > now:
                time.sleep(min(due - now, 0.25))
                continue
            if end_due <= ready:
                _, _, fault, begun = heapq.heappop(ends)
                self._end(fault, begun)
                if fault.group is not None:
                    busy.pop(fault.group, None)
                continue
            assert candidate is not None
            following += 1
            self.lags.append(now - (start + candidate.at))
            begun = self._begin(candidate)
            if candidate.duration > 0:
                heapq.heappush(ends, (time.monotonic() + candidate.duration, candidate.index, candidate, begun))
                if candidate.group is not None:
                    busy[candidate.group] = candidate.index
        self.ended_at = time.monotonic()

    def _begin(self, fault: Fault) -> Any:
        action = faults.ACTIONS[fault.kind]
        arguments = action.arguments(dict(fault.params), self.context)
        try:
            begun = self.cluster.run(action.begin, **arguments)
        except Exception as exc:
            self.errors.append(f"{fault.describe()}: {exc}")
            return None
        self.by_kind[fault.kind] += 1
        self.done += 1
        if (fault.kind in ("iam_unavailable", "unauthorized", "unauthorized_subscribe") and not begun) or (
            fault.kind == "failover" and begun is None
        ):
            self.no_ops[fault.kind] += 1
        if fault.kind == "revoke":
            self.causes["revoke", arguments["uid"]] += 1
        elif fault.kind == "expire":
            self.causes["expire", ""] += 1
        elif fault.kind in ("unauthorized", "unauthorized_subscribe"):
            self.causes["unauthorized", ""] += int(begun or 0)
        return begun

    def executed(self) -> Iterator[Tuple[str, Dict[str, Any], Any]]:
        """The executed faults that explain logins, as ``invariants.login_budget`` reads them."""
        for (kind, uid), count in self.causes.items():
            if kind == "unauthorized":
                yield kind, {}, count
            else:
                for _ in range(count):
                    yield kind, {"uid": uid}, None

    def _end(self, fault: Fault, begun: Any) -> None:
        action = faults.ACTIONS[fault.kind]
        if action.end is None:
            return
        try:
            self.cluster.run(action.end, begun)
        except Exception as exc:
            self.errors.append(f"end of {fault.describe()}: {exc}")


# -- the soak ---------------------------------------------------------------------------------------


def run_soak(options: SoakOptions, out: Out = print) -> SoakResult:
    """Run one soak; print as it goes and the table at the end; return the rows.

    Whatever goes wrong (a framework that never starts, the cluster's host dying),
    the table is printed, the run fails, and the seed to replay is said.
    """
    out(f"soak seed {options.seed}   (replay: {options.replay()})")
    schedule = make_schedule(options.seed, options.faults, options.settings(), options.weights)
    planned = Counter(f.kind for f in schedule)
    out(
        f"schedule {digest(schedule)}: {len(schedule)} faults over {schedule[-1].at if schedule else 0:.0f} s planned "
        f"({options.rate:g}/s): " + ", ".join(f"{k} {planned[k]}" for k in KINDS if planned[k])
    )
    soak = Soak(options, schedule, out)
    rows: List[Row] = []
    try:
        with soak.logs(), Guard() as guard:
            try:
                rows = soak.run(guard)
            except Exception as exc:
                rows.append(Row("soak ran to the end", False, f"{type(exc).__name__}: {exc}", []))
                out(f"the soak stopped early: {type(exc).__name__}: {exc}")
            finally:
                soak.stop_frameworks()
    finally:
        problems = soak.close()
    rows.append(
        Row("fakes healthy (no server-thread failure)", not problems, f"{len(problems)} problem(s)", problems[:5])
    )
    ok = all(row.ok for row in rows)
    report(options, rows, soak.figures, ok, out)
    return SoakResult(options.seed, ok, rows, soak.figures)


class Soak:
    """One run's parts: the cluster's host, the frameworks, the sampler, the log tally."""

    def __init__(self, options: SoakOptions, schedule: List[Fault], out: Out) -> None:
        self.options = options
        self.schedule = schedule
        self.out = out
        self.began = time.monotonic()
        self.cluster_options = options.cluster()
        self.uids = self.cluster_options.uids()
        self.host: Any = None
        self.frameworks: List[Framework] = []
        self.sampler = Sampler(options.sample_interval)
        self.tally = LogTally()
        self.figures: Dict[str, Any] = {}
        self.problems: List[str] = []

    @contextmanager
    def logs(self) -> Iterator[None]:
        """Count warnings and errors (printing none); with ``--log``, write INFO and above to a file."""
        root = logging.getLogger()
        saved_level = root.level
        root.addHandler(self.tally)
        root.setLevel(logging.WARNING)
        log_file: Optional[logging.Handler] = None
        if self.options.log:
            log_file = logging.FileHandler(self.options.log, mode="w", encoding="utf-8")
            log_file.setFormatter(
                logging.Formatter("%(relativeCreated)9.0f %(threadName)-22.22s %(name)s: %(message)s")
            )
            root.addHandler(log_file)
            root.setLevel(logging.INFO)
        try:
            yield
        finally:
            root.removeHandler(self.tally)
            if log_file is not None:
                root.removeHandler(log_file)
                log_file.close()
            root.setLevel(saved_level)

    def run(self, guard: Guard) -> List[Row]:
        options, out = self.options, self.out
        self.host = LocalCluster(self.cluster_options) if options.in_process else RemoteCluster(self.cluster_options)
        host, info = self.host, self.host.info
        out(
            f"cluster: strict, TLS, {info['masters']} master(s)"
            + (" in ZooKeeper" if info["multi_master"] else " (no ZooKeeper: failovers are no-ops)")
            + f", {options.frameworks} framework(s), heartbeat {options.heartbeat_interval:g} s, "
            f"allocation {options.allocation_interval:g} s, token lifetime {options.token_lifetime:g} s, "
            f"cluster in {'this process' if options.in_process else f'process {host.pid}'}"
        )
        self.sampler.start()
        self.frameworks = frameworks = [
            Framework(
                i,
                uid,
                info["secrets"][uid],
                info["master"],
                info["ca_bundle"],
                frameworks=options.frameworks,
                tasks_per_offer=options.tasks_per_offer,
                max_in_flight=options.max_in_flight,
                seed=options.seed,
            )
            for i, uid in enumerate(self.uids)
        ]
        started = time.monotonic()
        for framework in frameworks:
            framework.start()
        if not wait_until(lambda: all(fw.scheduler.finished() > 0 for fw in frameworks), options.start_timeout):
            raise RuntimeError(
                f"the frameworks did not finish a first task within {options.start_timeout:.0f} s: "
                + "; ".join(f"{fw.uid}: {fw.scheduler.snapshot()['counts']}" for fw in frameworks)
            )
        out(f"frameworks subscribed and running tasks after {time.monotonic() - started:.1f} s; chaos starts")
        runner = FaultRunner(host, self.schedule, {"uids": self.uids})

        def progress() -> None:
            finished = sum(fw.scheduler.finished() for fw in frameworks)
            out(
                f"  {time.monotonic() - runner.started_at:6.0f} s: {runner.done}/{len(self.schedule)} faults, "
                f"{finished} tasks finished, lag {runner.lags[-1] if runner.lags else 0:.2f} s"
            )

        # Every driver stopped for good: the rest of the chaos would measure nothing.
        runner.run(progress, options.progress, give_up=lambda: all(fw.driver.failure for fw in frameworks))
        if runner.gave_up:
            out(f"every driver stopped for good: the last {runner.skipped} faults were not run")
        chaos = (runner.started_at, runner.ended_at)
        out(f"chaos over: {runner.done} faults in {chaos[1] - chaos[0]:.1f} s; quiet period")
        quiet = settle(host, frameworks, options.settle_timeout)
        final = host.run(ledger, [fw.scheduler.name for fw in frameworks], self.uids)
        snapshots = {fw.uid: fw.scheduler.snapshot() for fw in frameworks}
        leftovers = sorted(t for snapshot in snapshots.values() for t in snapshot["in_flight"])[:20]
        where = host.run(known_tasks, leftovers) if leftovers else {}
        self.stop_frameworks()
        stopped = time.monotonic()
        teardowns = host.run(ledger, [], [])["teardowns"]
        self.sampler.stop()
        rows = [
            update_row(final, snapshots, quiet, where),
            Row(
                "no TEARDOWN sent",
                sum(teardowns) == 0,
                f"TEARDOWN calls per master {teardowns} (drivers stopped with failover=True)",
                [],
            ),
            guard.row({fw.uid: fw.driver.failure for fw in frameworks}),
        ]
        per, shared, how = login_budget(runner.executed(), self.uids, stopped - started, options.token_lifetime)
        rows.append(login_row(final["logins"], per, shared, how, final["login_attempts"], final["login_count"]))
        tolerance = tolerance_for(options.frameworks)
        rows.extend(resource_rows(self.sampler.samples, chaos[0], chaos[1], tolerance))
        rows.append(
            Row(
                "faults injected as planned",
                not runner.errors and runner.done == len(self.schedule),
                f"{runner.done}/{len(self.schedule)} executed, {len(runner.errors)} failed to inject"
                + (f", {runner.skipped} not run (every driver had stopped)" if runner.gave_up else ""),
                runner.errors[:10],
            )
        )
        self.figures = {
            "faults": runner.done,
            "by_kind": dict(runner.by_kind),
            "no_ops": dict(runner.no_ops),
            "chaos_seconds": chaos[1] - chaos[0],
            "total_seconds": time.monotonic() - self.began,
            "lag_max": max(runner.lags, default=0.0),
            "lag_median": statistics.median(runner.lags) if runner.lags else 0.0,
            "tasks_finished": sum(snapshot["counts"].get("terminal", 0) for snapshot in snapshots.values()),
            "snapshots": snapshots,
            "ledger": final,
            "quiet": quiet,
            "logins_client": {fw.uid: fw.provider.login_count for fw in frameworks},
            "tolerance": tolerance.describe(),
            "samples": len(self.sampler.samples),
            "log_errors": self.tally.errors()[:8],
            "log_total": sum(self.tally.counts.values()),
        }
        return rows

    def stop_frameworks(self) -> None:
        for framework in self.frameworks:
            try:
                framework.stop()
            except Exception as exc:
                self.problems.append(f"stopping {framework.uid}: {exc}")
        self.sampler.stop()

    def close(self) -> List[str]:
        """Stop the cluster; every problem met on the way out."""
        problems = list(self.problems)
        if self.host is not None:
            try:
                problems += self.host.close()
            except Exception as exc:
                problems.append(f"closing the cluster's host: {exc}")
        return problems


def settle(host: Any, frameworks: Sequence[Framework], timeout: float) -> Dict[str, Any]:
    """The quiet period: no new tasks; wait until every task is terminal and acknowledged.

    Two stand-ins, each after RESEND_AFTER seconds without progress, counted:

    - the fake master resends unacknowledged updates only on re-subscription, where a
      real agent would resend them itself (``faults.py``): a stream drop (at most
      MAX_RESENDS);
    - an update the master makes itself (no uuid: TASK_LOST for a launch on an offer
      that was rescinded or died with its master) is sent once, and lost with the
      stream it was on, as in Mesos: a framework learns such a task's fate by
      reconciliation, so the schedulers reconcile the tasks they still wait for once
      nothing is unacknowledged.
    """
    for framework in frameworks:
        framework.scheduler.draining = True
    began = time.monotonic()
    deadline = began + timeout
    resends = reconciled = 0
    last: Tuple[int, int] = (-1, -1)
    changed_at = began
    while True:
        # A driver that stopped for good never settles: the others are waited for all the same.
        alive = [fw for fw in frameworks if fw.driver.failure is None]
        state = host.run(
            settled, [fw.scheduler.framework_id or "" for fw in alive], [fw.scheduler.name for fw in alive]
        )
        in_flight = {fw.uid: fw.scheduler.snapshot()["in_flight"] for fw in alive}
        waiting = sum(len(tasks) for tasks in in_flight.values())
        unacked = sum(state["unacked"].values())
        connected = all(fw.connected for fw in alive) and all(state["subscribed"])
        now = time.monotonic()
        result = {
            "seconds": now - began,
            "resends": resends,
            "reconciled": reconciled,
            "in_flight": waiting,
            "unacked": unacked,
            "failed": [fw.uid for fw in frameworks if fw not in alive],
        }
        if connected and unacked == 0 and waiting == 0:
            return {"settled": True, **result}
        if now >= deadline:
            return {"settled": False, **result}
        if (unacked, waiting) != last:
            last, changed_at = (unacked, waiting), now
        elif connected and now - changed_at >= RESEND_AFTER:
            changed_at = now
            if unacked and resends < MAX_RESENDS:
                host.run(faults.resend_updates)
                resends += 1
            elif not unacked:
                for framework in alive:
                    tasks = in_flight[framework.uid]
                    if tasks:
                        framework.scheduler.reconcile(framework.driver, tasks)
                        reconciled += len(tasks)
        time.sleep(0.25)


def update_row(
    final: Dict[str, Any], snapshots: Dict[str, Dict[str, Any]], quiet: Dict[str, Any], where: Dict[str, Any]
) -> Row:
    """Every framework whose driver is still running: each task a master launched reached a
    terminal state, the scheduler saw it from the agent, nothing is unacknowledged."""
    details: List[str] = []
    ok = bool(quiet["settled"])
    seen_total = master_total = unacked_total = 0
    for uid, snapshot in snapshots.items():
        if uid in quiet.get("failed", ()):
            details.append(f"{uid}: not checked, its driver stopped (see the next row)")
            continue
        counts = snapshot["counts"]
        prefix = f"f{uid.rsplit('-', 1)[1]}"
        tasks = final["per_framework"].get(prefix, {})
        seen = counts.get("terminal_executor", 0)
        seen_total += seen
        master_total += tasks.get("terminal", 0)
        unacked_total += tasks.get("unacked_count", 0)
        if tasks.get("stuck_count"):
            ok = False
            details.append(f"{uid}: {tasks['stuck_count']} task(s) never terminal on any master: {tasks['stuck']}")
        if tasks.get("unacked_count"):
            ok = False
            details.append(f"{uid}: unacknowledged at the leader: {tasks['unacked']}")
        if seen != tasks.get("terminal", 0):
            ok = False
            details.append(
                f"{uid}: the scheduler saw {seen} terminal updates from agents, the masters finished "
                f"{tasks.get('terminal', 0)} of its tasks"
            )
        if snapshot["in_flight"]:
            ok = False
            details.append(f"{uid}: {len(snapshot['in_flight'])} task(s) launched without a terminal update")
    for task_id, places in where.items():
        details.append(
            f"  {task_id}: "
            + ("; ".join(f"master {i}: {s[-1]}, {u} unacked" for i, s, u in places) or "unknown to every master")
        )
    figures = (
        f"terminal updates seen {seen_total} = tasks finished by the masters {master_total}; "
        f"unacknowledged at the leader {unacked_total}; "
        f"settled {'yes' if quiet['settled'] else 'NO'} in {quiet['seconds']:.1f} s "
        f"(stream drops for resends {quiet['resends']}, tasks reconciled {quiet['reconciled']})"
        + (f"; not checked (driver stopped): {', '.join(quiet['failed'])}" if quiet.get("failed") else "")
    )
    return Row("no status update lost (all acknowledged)", ok, figures, details[:SHOWN_DETAILS])


SHOWN_DETAILS = 12


def report(options: SoakOptions, rows: List[Row], figures: Dict[str, Any], ok: bool, out: Out) -> None:
    """The figures, the table of invariants, and the verdict (with the replay command on failure)."""
    if figures:
        out("")
        by_kind = figures["by_kind"]
        no_ops = figures["no_ops"]
        out(
            f"faults {figures['faults']} in {figures['chaos_seconds']:.1f} s "
            f"({figures['faults'] / max(figures['chaos_seconds'], 1e-9):.1f}/s; lag median "
            f"{figures['lag_median']:.3f} s, max {figures['lag_max']:.2f} s); "
            f"whole run {figures['total_seconds']:.1f} s"
        )
        merged = sum(no_ops.values())
        out(
            "  by kind: "
            + ", ".join(f"{k} {by_kind.get(k, 0)}" + (f" ({no_ops[k]} merged)" if no_ops.get(k) else "") for k in KINDS)
        )
        out(
            f"  in effect {figures['faults'] - merged}; merged {merged}: the fault found the one before it still "
            "queued (a 401 or a failed login not yet met, see bench/soak/faults.py) and added nothing"
        )
        total = Counter[str]()
        failed = Counter[str]()
        auth = Counter[str]()
        recoveries: List[Dict[str, float]] = []
        for snapshot in figures["snapshots"].values():
            total.update(snapshot["counts"])
            failed.update(snapshot["calls_failed"])
            auth.update(snapshot["auth_failures"])
            recoveries.append(snapshot["recoveries"])
        out(
            f"tasks finished {total['terminal']} (launched {total['launched']}, launch calls failed "
            f"{total['launch_failed']}, TASK_LOST from the master {total['task_lost']}); updates {total['updates']} "
            f"({total['updates_with_uuid']} with uuid, {total['terminal_again']} terminal resent)"
        )
        out(
            f"subscriptions: registered {total['registered']}, re-registered {total['reregistered']}, "
            f"disconnected {total['disconnected']}; recovery (disconnected -> re-registered) "
            + "; ".join(
                f"{uid}: n={r.get('count', 0)} p50 {r.get('p50', 0):.2f} s p99 {r.get('p99', 0):.2f} s "
                f"max {r.get('max', 0):.2f} s"
                for uid, r in zip(figures["snapshots"], recoveries)
            )
        )
        out(
            "longest run of SUBSCRIBE 401s between two subscriptions (the driver gives up at 5): "
            + ", ".join(f"{uid} {snapshot['subscribe_401_longest']}" for uid, snapshot in figures["snapshots"].items())
        )
        ledger_ = figures["ledger"]
        out(
            f"logins at the IAM {ledger_['login_count']} ({ledger_['logins']}), by the clients "
            f"{figures['logins_client']}; tokens refreshed {total['token_refreshed']}; "
            f"authentication failures told {dict(auth) or 0}"
        )
        out(f"calls failed (a fault hit them): {dict(failed) or 0}; master requests {ledger_['requests']}")
        out(
            f"log records at WARNING or above: {figures['log_total']}; errors: "
            + ("; ".join(f"{n}x {text}" for n, text in figures["log_errors"]) or "none")
        )
        out(f"resources: {figures['samples']} samples; {figures['tolerance']}")
    out("")
    width = max(len(row.name) for row in rows)
    out(f"{'invariant':<{width}}  result  figures")
    for row in rows:
        out(f"{row.name:<{width}}  {'ok    ' if row.ok else 'FAILED'}  {row.figures}")
        for detail in row.details if not row.ok or row.name.startswith("logins") else []:
            for line in detail.splitlines()[:12]:
                out(f"{'':<{width}}          {line}")
    out("")
    if ok:
        out(f"soak seed {options.seed}: every invariant held")
    else:
        failed_names = ", ".join(row.name for row in rows if not row.ok)
        out(f"soak seed {options.seed} FAILED ({failed_names}); replay with --seed {options.seed}: {options.replay()}")


# -- the command line ---------------------------------------------------------------------------------


def parse_weights(text: str) -> Dict[str, float]:
    weights: Dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown fault kind {name!r} (known: {', '.join(KINDS)})")
        weights[name] = float(value)
    return weights


def parse_args(argv: Optional[Sequence[str]]) -> SoakOptions:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="A seeded chaos soak of mesos-auth's scheduler driver against the fake cluster.",
    )
    defaults = SoakOptions(seed=0)
    parser.add_argument("--seed", type=int, default=None, help="the schedule's seed (default: a random one, printed)")
    parser.add_argument("--faults", type=int, default=defaults.faults, help="how many faults (default %(default)s)")
    parser.add_argument("--frameworks", type=int, default=defaults.frameworks, help="default %(default)s")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="faults a second (default %(default)s)")
    parser.add_argument("--masters", type=int, default=defaults.masters, help="default %(default)s")
    parser.add_argument("--heartbeat-interval", type=float, default=defaults.heartbeat_interval)
    parser.add_argument("--allocation-interval", type=float, default=defaults.allocation_interval)
    parser.add_argument("--token-lifetime", type=float, default=defaults.token_lifetime)
    parser.add_argument("--tasks-per-offer", type=int, default=defaults.tasks_per_offer)
    parser.add_argument("--max-in-flight", type=int, default=defaults.max_in_flight)
    parser.add_argument("--settle-timeout", type=float, default=defaults.settle_timeout)
    parser.add_argument("--weights", type=parse_weights, default=None, help="e.g. failover=5,drop=0")
    parser.add_argument("--zookeeper", default=None, help="host:port of a running ZooKeeper (default: start one)")
    parser.add_argument("--in-process", action="store_true", help="run the fake cluster in this process")
    parser.add_argument("--log", default=None, help="write the drivers' log (INFO and above) to this file")
    parser.add_argument("--progress", type=float, default=defaults.progress, help="seconds between progress lines")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    if not 0.0 < args.token_lifetime <= 170.0:
        parser.error(
            "--token-lifetime must be in (0, 170]: the expiry fault shifts the IAM's clock past it, "
            "within the login token's 180 s"
        )
    return replace(
        defaults,
        seed=seed,
        faults=args.faults,
        frameworks=args.frameworks,
        rate=args.rate,
        masters=args.masters,
        heartbeat_interval=args.heartbeat_interval,
        allocation_interval=args.allocation_interval,
        token_lifetime=args.token_lifetime,
        tasks_per_offer=args.tasks_per_offer,
        max_in_flight=args.max_in_flight,
        settle_timeout=args.settle_timeout,
        weights=args.weights,
        zookeeper_hosts=args.zookeeper,
        in_process=args.in_process,
        progress=args.progress,
        log=args.log,
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    result = run_soak(options, out=lambda line: print(line, flush=True))
    return 0 if result.ok else 1
