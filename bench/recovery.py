"""Recovery times: leader failover, token revocation and a dropped stream, against floors measured in the same run.

The strict TLS driver (``create_driver``, a service account, the cluster's CA
bundle) is hurt in three ways, each repeated ``REPETITIONS`` times; every time is
measured from just before the harm to the moment the (new) leading master has
recorded the framework back: seen through ``FakeMaster.wait_for`` or, when earlier,
through what follows the record on the driver's own thread (``earliest``):

1. leader failover: three masters in a real ZooKeeper, the driver given
   ``cluster.zookeeper_url``; ``cluster.fail_over()`` kills the leader (its
   connections reset, its streams drop, its ZooKeeper node goes) and the next one
   leads. Until the new leader has the framework subscribed, with the same
   framework id, on a new stream. The driver's backoff pause starts when the stream
   drops, and a new leader named by ZooKeeper ends it at once
   (``AuthenticatedSchedulerDriver.change_master``), so the floor is the ZooKeeper
   notification plus one SUBSCRIBE: the notification measured on its own as the
   time from deleting a node to a kazoo ``ChildrenWatch`` of another session firing
   in this process, the SUBSCRIBE as in 3. The first delay is shown beside it, with
   how many times the driver re-subscribed before it had passed.
2. token revocation: ``iam.revoke_tokens(uid)``, then the framework calls
   ``reviveOffers()`` at once. The master answers the REVIVE 401, the driver
   invalidates its token, logs in again (through Admin Router, as the secret says)
   and resends the REVIVE. Until the master has recorded that REVIVE answered 202.
   Floor: one login (the library's ``IAMClient.login``) plus one REVIVE call,
   each measured on its own.
3. dropped stream: ``master.drop_streams()``. Until the framework is subscribed
   again, on a new stream. Floor: the first re-subscribe delay plus one SUBSCRIBE
   (a new TLS connection, POST SUBSCRIBE with the token, until the SUBSCRIBED
   event is read), measured on its own.

The re-subscribe backoff is the driver's public option (``RETRY`` below, no
jitter, so that the first delay is exactly ``initial_delay``). The driver resets
its backoff only after a subscription has lived one heartbeat interval
(``driver._Subscription.lived``); so the masters send heartbeats every
``HEARTBEAT`` seconds and each repetition starts once the current stream has
carried three, and the delays the driver chose are read from its log and shown
(all should be the first one). Floors and recoveries are measured in interleaved
rounds, after one round that warms up. Every wait has a deadline of ``DEADLINE`` seconds.
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import math
import ssl
import statistics
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from mesos_auth import IAMClient, RetryPolicy, Scheduler, ServiceAccount, create_driver
from mesos_auth.recordio import RecordIODecoder
from mesos_auth.testing import FakeCluster, FakeMaster
from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable

REPETITIONS = 30
#: Seconds any one wait may take (a repetition, a start, a floor sample).
DEADLINE = 30.0
#: The masters' heartbeat interval: short, so that a subscription "lives" soon (see the module's doc).
HEARTBEAT = 0.1
#: Heartbeats a stream must have carried before it is hurt: more than one interval after SUBSCRIBED.
LIVED_HEARTBEATS = 3
#: The driver's re-subscribe backoff: first delay 0.1 s, doubling; no jitter, so the floor is exact.
RETRY = RetryPolicy(initial_delay=0.1, backoff=2.0, max_delay=2.0, jitter=0.0, deadline=3600.0)
#: Silence tolerated on a stream, in heartbeat intervals: 5 s, so a busy machine never looks like a hung master.
MISSED_HEARTBEATS = 50
UID = "bench-recovery"
FRAMEWORK = {"user": "nobody", "name": "bench-recovery", "failover_timeout": 3600.0}
SCHEDULER_PATH = "/api/v1/scheduler"


# -- distributions ---------------------------------------------------------------------


class Samples:
    """Seconds, one per repetition; shown in milliseconds."""

    def __init__(self, label: str, values: Sequence[float]) -> None:
        if not values:
            raise ValueError(f"no samples for {label}")
        self.label = label
        self.values = sorted(values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p90(self) -> float:
        """Nearest rank: the smallest value with at least 90 % of the samples at or below it."""
        return self.values[max(0, math.ceil(0.9 * len(self.values)) - 1)]

    def row(self) -> str:
        ms = [v * 1000.0 for v in (self.values[0], self.median, self.p90, self.values[-1])]
        return f"  {self.label:<52}" + "".join(f"{v:>9.1f}" for v in ms)


def header(title: str, n: int) -> None:
    print(f"{title} ({n} repetitions, ms)")
    print(f"  {'':<52}{'min':>9}{'median':>9}{'p90':>9}{'max':>9}")


def verdict(recovery: Samples, floor: float, how: str, delays: List[float]) -> None:
    print(f"  {'floor = ' + how:<52}{floor * 1000:>18.1f}")
    print(f"  {'median / floor':<52}{recovery.median / floor:>17.2f}x")
    if delays:
        low, high = min(delays), max(delays)
        chosen = f"{low * 1000:.0f} ms" if high - low < 1e-9 else f"{low * 1000:.0f} to {high * 1000:.0f} ms"
        print(f"  (the driver's backoff chose {chosen} for each of its {len(delays)} pauses, warm-up included)")


def first_delay_row() -> str:
    return f"  {'first re-subscribe delay (RetryPolicy.initial_delay)':<52}{RETRY.initial_delay * 1000:>18.1f}"


def rounds(n: int, steps: Sequence[Callable[[], Any]]) -> List[List[Any]]:
    """Each step's results over ``n`` rounds of all steps in turn, after one round that warms up
    (first connections, caches). Interleaved, so that the machine's noise falls on the floors
    and the recoveries alike."""
    results: List[List[Any]] = [[] for _ in steps]
    for round_ in range(n + 1):
        for step, out in zip(steps, results):
            value = step()
            if round_:
                out.append(value)
    return results


def earliest(seen: float, *signals: Optional[float]) -> float:
    """When the master recorded what was waited for, as closely as this process can tell.

    ``seen``: when the benchmark's thread, woken by the master's ``wait_for``, saw it; that
    wake-up can lag by a few milliseconds while another thread holds the GIL (the cluster
    failing over, a login). ``signals``: later consequences stamped by the thread they
    happen on (the scheduler told ``reregistered``, the call returned), None when not
    (yet) seen. Every one of them comes after the master's record, so the earliest is
    the tightest bound on it.
    """
    return min([seen, *(signal for signal in signals if signal is not None)])


# -- the driver and what it logs -------------------------------------------------------


class Quiet(Scheduler):
    """Takes no offers (the first one holds the agent, so no more come), says nothing, and
    notes when it was told ``reregistered`` (the driver read SUBSCRIBED again)."""

    def __init__(self) -> None:
        self.reregistered_at: List[float] = []

    def reregistered(self, driver: Any, master_info: Any) -> None:
        self.reregistered_at.append(time.perf_counter())

    def told_after(self, moment: float) -> Optional[float]:
        return next((at for at in list(self.reregistered_at) if at >= moment), None)

    def resourceOffers(self, driver: Any, offers: Any) -> None:
        pass

    def authenticationFailed(self, driver: Any, error: Exception) -> None:
        pass  # the revocation's 401 is expected; the master's records say what happened


class DriverLog(logging.Handler):
    """Collects the re-subscribe delays the driver chose (``re-subscribing to %s in %.1f s``),
    when its ZooKeeper detector named a leader (``leading master in ZooKeeper ...``) and any
    error it logged; while installed, mesos_auth logs at INFO into it only, and kazoo's
    connection chatter is kept to errors. What the texts do not match is left out."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.delays: List[float] = []
        self.leaders_named: List[float] = []  # perf_counter() when each was logged
        self.errors: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.msg)
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())
        elif text.startswith("leading master in ZooKeeper"):
            self.leaders_named.append(time.perf_counter())
        elif text.startswith("re-subscribing to") and isinstance(record.args, tuple) and record.args:
            delay = record.args[-1]
            if isinstance(delay, float):
                self.delays.append(delay)

    def take_delays(self) -> List[float]:
        delays, self.delays = self.delays, []
        return delays

    def leader_named_after(self, moment: float) -> Optional[float]:
        return next((at for at in self.leaders_named if at >= moment), None)


@contextmanager
def driver_log() -> Iterator[DriverLog]:
    handler = DriverLog()
    ours, kazoo = logging.getLogger("mesos_auth"), logging.getLogger("kazoo")
    saved = (ours.level, ours.propagate, kazoo.level)
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False
    kazoo.setLevel(logging.ERROR)
    try:
        yield handler
    finally:
        ours.removeHandler(handler)
        ours.setLevel(saved[0])
        ours.propagate = saved[1]
        kazoo.setLevel(saved[2])
        for message in handler.errors:
            print(f"  driver error logged: {message}")


def subscribed_on(master: FakeMaster, framework_id: str, not_on: Optional[str]) -> bool:
    """``framework_id`` is subscribed at ``master`` on a stream other than ``not_on``."""
    record = master.frameworks.get(framework_id)
    return record is not None and record.state == "subscribed" and record.stream_id != not_on


def stream_of(master: FakeMaster, framework_id: str) -> str:
    stream_id = master.frameworks[framework_id].stream_id
    if stream_id is None:
        raise RuntimeError(f"framework {framework_id} has no stream at {master}")
    return stream_id


def wait_lived(master: FakeMaster, framework_id: str) -> str:
    """Until the framework's stream at ``master`` has carried LIVED_HEARTBEATS heartbeats; its id."""
    stream_id = stream_of(master, framework_id)

    def lived() -> bool:
        record = master.streams.get(stream_id)
        return record is not None and record.sent.count("HEARTBEAT") >= LIVED_HEARTBEATS

    master.wait_for(lived, timeout=DEADLINE, what=f"{LIVED_HEARTBEATS} heartbeats on the framework's stream")
    return stream_id


@contextmanager
def running_driver(master_uri: str, cluster: FakeCluster, account: ServiceAccount, leader: FakeMaster) -> Iterator[Any]:
    """A strict TLS driver subscribed at ``leader``; stopped with failover (no TEARDOWN) and joined at the end."""
    driver = create_driver(
        Quiet(),
        dict(FRAMEWORK),
        master_uri,
        service_account=account,
        security_mode="strict",
        ca_bundle=cluster.ca_bundle,
        resubscribe_backoff=RETRY,
        missed_heartbeats=MISSED_HEARTBEATS,
    )
    driver.start()
    try:
        framework_id = str(leader.wait_for(lambda: driver.framework_id, timeout=DEADLINE, what="the driver subscribed"))
        leader.wait_for(
            lambda: subscribed_on(leader, framework_id, None), timeout=DEADLINE, what="subscribed at the master"
        )
        yield driver
    finally:
        driver.stop(failover=True)
        driver.join()
    if driver.failure is not None:
        raise RuntimeError(f"the driver failed: {driver.failure}")


class InBackground(threading.Thread):
    """One call on a thread of its own (a framework's thread, the cluster failing over) while the
    benchmark's thread watches a master; ``took`` is how long the call took."""

    def __init__(self, call: Callable[[], Any]) -> None:
        super().__init__(name="bench call", daemon=True)
        self.call = call
        self.error: Optional[BaseException] = None
        self.took = 0.0
        self.returned_at: Optional[float] = None

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.call()
        except BaseException as exc:
            self.error = exc
        self.returned_at = time.perf_counter()
        self.took = self.returned_at - started

    def finish(self) -> float:
        self.join(DEADLINE)
        if self.is_alive() or self.error is not None:
            raise RuntimeError(f"{self.call} did not succeed: {self.error or 'still running'}")
        return self.took


# -- floors, measured on their own -----------------------------------------------------


@contextmanager
def zookeeper_watch(zookeeper: ZooKeeperServer) -> Iterator[Callable[[], float]]:
    """A node deleted by one session (as a master's) to a ``ChildrenWatch`` of another session
    firing (as a framework's detector): ``once()`` makes a node, waits until the watch saw
    it, deletes it and returns the seconds until the watch saw it gone."""
    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.recipe.watchers import ChildrenWatch  # type: ignore[import-untyped]

    path = f"/bench-{uuid.uuid4().hex[:8]}"
    owner, watcher = KazooClient(zookeeper.hosts), KazooClient(zookeeper.hosts)
    changed = threading.Condition()
    seen: List[Tuple[float, List[str]]] = []

    def on_children(children: List[str]) -> None:
        at = time.perf_counter()
        with changed:
            seen.append((at, list(children)))
            changed.notify_all()

    def until(predicate: Callable[[List[str]], bool]) -> float:
        with changed:
            if not changed.wait_for(lambda: bool(seen) and predicate(seen[-1][1]), timeout=DEADLINE):
                raise TimeoutError("the ZooKeeper watch did not fire")
            return seen[-1][0]

    def once() -> float:
        node = owner.create(f"{path}/json.info_", b"{}", ephemeral=True, sequence=True)
        name = node.rsplit("/", 1)[-1]
        until(lambda children: name in children)
        started = time.perf_counter()
        owner.delete(node)
        return until(lambda children: name not in children) - started

    try:
        owner.start(timeout=DEADLINE)
        watcher.start(timeout=DEADLINE)
        owner.ensure_path(path)
        ChildrenWatch(watcher, path, on_children)
        yield once
        owner.delete(path, recursive=True)
    finally:
        for client in (watcher, owner):
            client.stop()
            client.close()


def login_once(account: ServiceAccount, cluster: FakeCluster) -> Callable[[], float]:
    """One ``IAMClient.login``: a login token signed, POSTed through Admin Router, the auth token read."""
    client = IAMClient(ca_bundle=cluster.ca_bundle, security_mode="strict")

    def once() -> float:
        started = time.perf_counter()
        client.login(account)
        return time.perf_counter() - started

    return once


def call_once(driver: Any, master: FakeMaster) -> Callable[[], float]:
    """One REVIVE with a valid token on the driver's kept-alive connection, to its 202."""

    def once() -> float:
        before = len(master.requests)
        started = time.perf_counter()
        driver.reviveOffers()
        ended = time.perf_counter()
        answers = [r.status for r in master.requests[before:] if r.call_type == "REVIVE"]
        if answers != [202]:
            raise RuntimeError(f"REVIVE answered {answers}")
        return ended - started

    return once


def subscribe_once(where: Callable[[], FakeMaster], cluster: FakeCluster, token: str) -> Callable[[], float]:
    """One SUBSCRIBE as the driver makes one, at the master ``where()`` names: a new TLS connection,
    POST with the token, until the SUBSCRIBED event is read. It subscribes a framework of its own
    (``failover_timeout`` 0: the master removes it when the connection closes)."""
    context = ssl.create_default_context(cafile=cluster.ca_bundle)
    info = dict(FRAMEWORK, name="bench-recovery-floor", principal=UID, failover_timeout=0.0)
    body = json.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}).encode()
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Connection": "close",
        "Authorization": f"token={token}",
    }

    def once() -> float:
        port = where().port("https")
        started = time.perf_counter()
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=DEADLINE, context=context)
        try:
            connection.request("POST", SCHEDULER_PATH, body=body, headers=headers)
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"SUBSCRIBE answered {response.status}")
            decoder = RecordIODecoder()
            while True:
                data = response.read1(65536)
                if not data:
                    raise RuntimeError("the stream ended before SUBSCRIBED")
                if any(json.loads(r).get("type") == "SUBSCRIBED" for r in decoder.feed(data)):
                    return time.perf_counter() - started
        finally:
            connection.close()

    return once


# -- the clusters ----------------------------------------------------------------------


@contextmanager
def strict_cluster(**options: Any) -> Iterator[Tuple[FakeCluster, ServiceAccount]]:
    """A strict TLS FakeCluster and the framework's account, granted what it needs."""
    with FakeCluster("strict", heartbeat_interval=HEARTBEAT, **options) as cluster:
        yield cluster, cluster.create_service_account(UID)
        cluster.check()


# -- the three benchmarks --------------------------------------------------------------


def successor(cluster: FakeCluster) -> FakeMaster:
    """The follower with the lowest ZooKeeper sequence: the one ``fail_over()`` makes leader
    (``src/zookeeper/detector.cpp``), named in advance so that it can be watched meanwhile."""
    followers = [master for master in cluster.masters if master is not cluster.leader]
    return min(followers, key=lambda master: master.zookeeper_sequence or 0)


class Failover(NamedTuple):
    """One failover, in seconds from its start: re-subscribed, ``fail_over()`` returned, the
    driver's detector named the new leader (None if not seen in its log); and how the
    driver's SUBSCRIBEs were answered, by the new leader and by the other masters."""

    recovered: float
    returned: float
    named: Optional[float]
    path: str


def one_failover(cluster: FakeCluster, driver: Any, log: DriverLog) -> Failover:
    """Fail the leader over once, measured.

    ``fail_over()`` runs on a thread of its own: it returns only after the old leader
    has rejoined ZooKeeper (a new session), which can outlast the driver's recovery,
    so the new leader is watched from the start."""
    framework_id = driver.framework_id
    old_stream = wait_lived(cluster.leader, framework_id)
    new = successor(cluster)
    seen = {master: len(master.requests) for master in cluster.masters}
    failing_over = InBackground(lambda: cluster.fail_over(to=new))
    started = time.perf_counter()
    failing_over.start()
    new.wait_for(
        lambda: subscribed_on(new, framework_id, old_stream), timeout=DEADLINE, what="re-subscribed at the new leader"
    )
    ended = earliest(time.perf_counter(), driver.sched.told_after(started))
    took = failing_over.finish()
    if cluster.leader is not new:
        raise RuntimeError(f"fail_over() made {cluster.leader} leader, not {new}")
    answers = {
        master: [r.status for r in master.requests[seen[master] :] if r.call_type == "SUBSCRIBE"]
        for master in cluster.masters
    }
    elsewhere = [status for master, statuses in answers.items() if master is not new for status in statuses]
    path = f"new leader {answers[new]}, others {elsewhere}"
    named = log.leader_named_after(started)
    return Failover(ended - started, took, None if named is None else named - started, path)


def failover(n: int, log: DriverLog) -> None:
    header("1. leader failover -> re-subscribed at the new leader (3 masters, zk://, strict, TLS)", n)
    zookeeper = ZooKeeperServer()
    try:
        zookeeper.start()
    except ZooKeeperUnavailable as missing:
        zookeeper.stop()
        print(f"  skipped: {missing}")
        return
    try:
        with strict_cluster(masters=3, zookeeper=zookeeper) as (cluster, account), zookeeper_watch(zookeeper) as watch:
            if cluster.zookeeper_url is None:
                raise RuntimeError("the cluster has no ZooKeeper URL")
            token = IAMClient(ca_bundle=cluster.ca_bundle, security_mode="strict").login(account)
            subscribe = subscribe_once(lambda: cluster.leader, cluster, token)
            with running_driver(cluster.zookeeper_url, cluster, account, cluster.leader) as driver:
                log.take_delays()
                watches, subscribes, runs = rounds(n, [watch, subscribe, lambda: one_failover(cluster, driver, log)])
    finally:
        zookeeper.stop()
    failovers = [run for run in runs if isinstance(run, Failover)]
    recovery = Samples("failover -> subscribed at the new leader", [run.recovered for run in failovers])
    print(recovery.row())
    named = [run.named for run in failovers if run.named is not None]
    if len(named) == n:
        print(Samples("  of which: -> the driver's detector named it", named).row())
    print(Samples("  (cluster.fail_over() returned)", [run.returned for run in failovers]).row())
    watched = Samples("ZooKeeper: node deleted -> kazoo watch fired", watches)
    subscribed = Samples("one SUBSCRIBE (new TLS connection, to SUBSCRIBED read)", subscribes)
    print(watched.row())
    print(subscribed.row())
    print(first_delay_row())
    verdict(recovery, watched.median + subscribed.median, "median watch + median SUBSCRIBE", log.take_delays())
    early = sum(value < RETRY.initial_delay for value in recovery.values)
    print(f"  (re-subscribed before the first delay had passed {early} of {n} times: ZooKeeper ended the pause)")
    for path, count in collections.Counter(run.path for run in failovers).most_common():
        print(f"  (SUBSCRIBE answered by the {path}: {count} of {n} times)")


def revocation(n: int, log: DriverLog) -> None:
    header("2. token revoked -> next call accepted (REVIVE: 401, login, REVIVE again: 202)", n)
    with strict_cluster() as (cluster, account):
        master = cluster.master
        with running_driver(master.url, cluster, account, master) as driver:
            stream = stream_of(master, driver.framework_id)
            log.take_delays()

            def recover() -> float:
                before = len(master.requests)
                caller = InBackground(driver.reviveOffers)
                started = time.perf_counter()
                cluster.iam.revoke_tokens(UID)
                caller.start()
                master.wait_for(
                    lambda: [r.status for r in master.requests[before:] if r.call_type == "REVIVE"] == [401, 202],
                    timeout=DEADLINE,
                    what="the REVIVE refused with the revoked token, then accepted with the new one",
                )
                seen = time.perf_counter()
                caller.finish()
                return earliest(seen, caller.returned_at) - started

            logins, calls, recoveries = rounds(n, [login_once(account, cluster), call_once(driver, master), recover])
            if not subscribed_on(master, driver.framework_id, None) or stream_of(master, driver.framework_id) != stream:
                raise RuntimeError("the revocation made the driver re-subscribe: the event stream should have stayed")
    recovery = Samples("revoked -> REVIVE accepted (master recorded 202)", recoveries)
    login = Samples("one login (IAMClient.login, through Admin Router)", logins)
    call = Samples("one call (REVIVE, token cached, connection kept alive)", calls)
    for samples in (recovery, login, call):
        print(samples.row())
    verdict(recovery, login.median + call.median, "median login + median call", log.take_delays())


def dropped_stream(n: int, log: DriverLog) -> None:
    header("3. stream dropped -> re-subscribed (same master, strict, TLS)", n)
    with strict_cluster() as (cluster, account):
        master = cluster.master
        with running_driver(master.url, cluster, account, master) as driver:
            framework_id = driver.framework_id
            log.take_delays()

            def recover() -> float:
                old_stream = wait_lived(master, framework_id)
                started = time.perf_counter()
                if master.drop_streams() < 1:
                    raise RuntimeError("no stream to drop")
                master.wait_for(
                    lambda: subscribed_on(master, framework_id, old_stream),
                    timeout=DEADLINE,
                    what="re-subscribed after the drop",
                )
                return earliest(time.perf_counter(), driver.sched.told_after(started)) - started

            subscribe = subscribe_once(lambda: master, cluster, driver.token_provider.token())
            subscribes, recoveries = rounds(n, [subscribe, recover])
    recovery = Samples("dropped -> subscribed again", recoveries)
    subscribed = Samples("one SUBSCRIBE (new TLS connection, to SUBSCRIBED read)", subscribes)
    print(recovery.row())
    print(subscribed.row())
    print(first_delay_row())
    verdict(recovery, RETRY.initial_delay + subscribed.median, "first delay + median SUBSCRIBE", log.take_delays())


def main() -> None:
    print(
        f"Strict TLS driver, first re-subscribe delay {RETRY.initial_delay * 1000:.0f} ms (no jitter), "
        f"masters' heartbeats every {HEARTBEAT * 1000:.0f} ms; floors and recoveries interleaved"
    )
    with driver_log() as log:
        for benchmark in (failover, revocation, dropped_stream):
            benchmark(REPETITIONS, log)
            print()


if __name__ == "__main__":
    main()
