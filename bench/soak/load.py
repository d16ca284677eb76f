"""The frameworks: real ``mesos_auth.create_driver`` drivers with a steady task load.

Each framework is what a DC/OS service is: a service account, strict mode, TLS,
the masters found through ZooKeeper (``zk://``), and a scheduler that launches small
tasks from its offers for as long as it runs. The fake master takes each task
through STARTING, RUNNING and FINISHED, every update with a uuid that the driver
acknowledges (pymesos' implicit acknowledgements).

The scheduler keeps counts, not histories, so that its memory stays flat however
long the soak runs: the tasks in flight (launched, no terminal update yet), how many
reached a terminal state, and a bounded sample of recovery times.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from typing import Any, Dict, List, Optional

from mesos_auth import RetryPolicy, Scheduler, TokenProvider, create_driver
from mesos_auth.tokens import TokenInfo

__all__ = ["FAST_BACKOFF", "Framework", "LoadScheduler"]

#: Re-subscribe fast: the soak runs in compressed time (as tests/driver/support.py does).
FAST_BACKOFF = RetryPolicy(initial_delay=0.05, backoff=2.0, max_delay=0.5, jitter=0.2, deadline=3600)
#: Logins retried as fast (the default waits 0.5 s doubling to 10 s, for real outages).
FAST_LOGIN_RETRY = RetryPolicy(initial_delay=0.05, backoff=2.0, max_delay=0.5, jitter=0.2, deadline=60)
TERMINAL = frozenset(
    {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_GONE"}
)
#: Terminal states the master gives on its own (no uuid) to a task it does not know, or refused.
MASTER_VERDICTS = frozenset({"TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_UNKNOWN", "TASK_ERROR"})
#: Seconds a task may wait for its terminal update before a re-registration reconciles it.
RECONCILE_AFTER = 2.0
#: Launch ids remembered after their ACCEPT failed (its answer may be lost after the master took it).
FAILED_LAUNCHES_KEPT = 10_000
#: Seconds another framework's agent is refused for (a filter lasts while its free resources do not grow).
FOREIGN_REFUSE_SECONDS = 60.0
_AGENT_NUMBER = re.compile(r"-S(\d+)$")
#: Recovery times kept for the percentiles (a reservoir sample beyond that).
RECOVERY_SAMPLE = 5_000


class LoadScheduler(Scheduler):
    """Launches up to ``tasks_per_offer`` tasks per offer, at most ``max_in_flight`` at a time."""

    def __init__(
        self,
        index: int,
        frameworks: int,
        *,
        tasks_per_offer: int = 1,
        max_in_flight: int = 8,
        seed: int = 0,
    ) -> None:
        self.index = index
        self.frameworks = frameworks
        self.name = f"f{index}"
        self.tasks_per_offer = tasks_per_offer
        self.max_in_flight = max_in_flight
        self.draining = False  # the quiet period: no new tasks
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._numbers = 0
        self.in_flight: Dict[str, float] = {}  # task id -> when launched (monotonic)
        self._failed_launches: Dict[str, None] = {}  # ordered: the oldest are forgotten first
        self.counts: Counter[str] = Counter()
        self.calls_failed: Counter[str] = Counter()
        self.auth_failures: Counter[str] = Counter()
        self.errors: List[str] = []
        self.framework_id: Optional[str] = None
        self._disconnected_at: Optional[float] = None
        self._recoveries: List[float] = []
        self._recovery_count = 0
        self._recovery_max = 0.0
        # SUBSCRIBE refused with 401 since the last subscription (the driver gives up at 5).
        self.subscribe_401_streak = 0
        self.subscribe_401_longest = 0
        self._rng = random.Random(seed)  # noqa: S311 - a reservoir sample, not a secret

    # -- what the soak reads ---------------------------------------------------------------

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "counts": dict(self.counts),
                "in_flight": sorted(self.in_flight),
                "calls_failed": dict(self.calls_failed),
                "auth_failures": dict(self.auth_failures),
                "errors": list(self.errors),
                "framework_id": self.framework_id,
                "recoveries": self._recovery_stats(),
                "subscribe_401_longest": self.subscribe_401_longest,
            }

    def finished(self) -> int:
        with self._lock:
            return self.counts["terminal"]

    def wait(self, predicate: Any, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.25))
        return True

    def _recovery_stats(self) -> Dict[str, float]:
        sample = sorted(self._recoveries)
        if not sample:
            return {"count": 0}

        def pick(q: float) -> float:
            return sample[min(len(sample) - 1, int(q * len(sample)))]

        return {"count": self._recovery_count, "p50": pick(0.5), "p99": pick(0.99), "max": self._recovery_max}

    def _note(self, what: str, n: int = 1) -> None:
        self.counts[what] += n
        self._changed.notify_all()

    # -- pymesos callbacks -------------------------------------------------------------------

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        with self._lock:
            self.framework_id = framework_id["value"]
            self._recovered()
            self._note("registered")

    def reregistered(self, driver: Any, master_info: Any) -> None:
        with self._lock:
            self._recovered()
            self._note("reregistered")
            now = time.monotonic()
            waited = [task_id for task_id, since in self.in_flight.items() if now - since >= RECONCILE_AFTER]
        if waited:
            self.reconcile(driver, waited)

    def reconcile(self, driver: Any, task_ids: List[str]) -> None:
        """Ask the master about tasks waited for (as a framework does after re-registering).

        A launch on an offer that was rescinded, or that died with its master, gets a
        TASK_LOST the master makes itself and sends once: lost with the stream it was on,
        it is learnt only this way. Unknown tasks come back TASK_LOST; known ones with
        their latest state (ignored: the agent's update is the one that counts).
        """
        try:
            driver.reconcileTasks([{"task_id": {"value": task_id}} for task_id in task_ids])
        except Exception as exc:  # a fault hit the call: the next re-registration asks again
            with self._lock:
                self.calls_failed["RECONCILE"] += 1
                self.calls_failed[type(exc).__name__] += 1
        else:
            with self._lock:
                self._note("reconcile_asked", len(task_ids))

    def disconnected(self, driver: Any) -> None:
        with self._lock:
            if self._disconnected_at is None:
                self._disconnected_at = time.monotonic()
            self._note("disconnected")

    def _recovered(self) -> None:
        self.subscribe_401_streak = 0
        if self._disconnected_at is None:
            return
        took = time.monotonic() - self._disconnected_at
        self._disconnected_at = None
        self._recovery_count += 1
        self._recovery_max = max(self._recovery_max, took)
        if len(self._recoveries) < RECOVERY_SAMPLE:
            self._recoveries.append(took)
        else:
            slot = self._rng.randrange(self._recovery_count)
            if slot < RECOVERY_SAMPLE:
                self._recoveries[slot] = took

    def owns(self, agent_id: str) -> bool:
        """Whether tasks go on this agent: agent ``S<n>`` belongs to framework ``n mod frameworks``.

        The fake master offers every agent to the first framework that takes it, in
        registration order; without a share each, the first framework would get every offer.
        """
        match = _AGENT_NUMBER.search(agent_id)
        return match is None or int(match.group(1)) % self.frameworks == self.index

    def resourceOffers(self, driver: Any, offers: List[Any]) -> None:
        for offer in offers:
            mine = self.owns(str(offer.get("agent_id", {}).get("value", "")))
            tasks = self._tasks_for(offer) if mine else []
            if not driver.connected:  # pymesos would drop the call silently
                self._forget(tasks)
                continue
            try:
                if tasks:
                    driver.launchTasks([offer["id"]], tasks, filters={"refuse_seconds": 0.0})
                else:
                    # Another framework's agent: refused for long (while its free resources do not grow).
                    refuse = 0.1 if mine else FOREIGN_REFUSE_SECONDS
                    driver.declineOffer([offer["id"]], filters={"refuse_seconds": refuse})
            except Exception as exc:  # the call failed (a fault): the tasks may or may not exist
                with self._lock:
                    self.calls_failed["ACCEPT" if tasks else "DECLINE"] += 1
                    self.calls_failed[type(exc).__name__] += 1
                    for task in tasks:
                        task_id = task["task_id"]["value"]
                        self.in_flight.pop(task_id, None)
                        self._failed_launches[task_id] = None
                    while len(self._failed_launches) > FAILED_LAUNCHES_KEPT:
                        del self._failed_launches[next(iter(self._failed_launches))]
                    self._note("launch_failed", len(tasks))
            else:
                with self._lock:
                    self._note("launched" if tasks else "declined", len(tasks) or 1)
        with self._lock:
            self._note("offers", len(offers))

    def _tasks_for(self, offer: Dict[str, Any]) -> List[Dict[str, Any]]:
        cpus = sum(r["scalar"]["value"] for r in offer.get("resources", ()) if r.get("name") == "cpus")
        tasks: List[Dict[str, Any]] = []
        with self._lock:
            while (
                not self.draining
                and len(tasks) < self.tasks_per_offer
                and len(self.in_flight) < self.max_in_flight
                and cpus >= 0.1 - 1e-9
            ):
                self._numbers += 1
                task_id = f"{self.name}-{self._numbers}"
                self.in_flight[task_id] = time.monotonic()
                cpus -= 0.1
                tasks.append(
                    {
                        "name": task_id,
                        "task_id": {"value": task_id},
                        "agent_id": offer["agent_id"],
                        "resources": [
                            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                            {"name": "mem", "type": "SCALAR", "scalar": {"value": 8.0}},
                        ],
                        "command": {"value": "true"},
                    }
                )
        return tasks

    def _forget(self, tasks: List[Dict[str, Any]]) -> None:
        with self._lock:
            for task in tasks:
                self.in_flight.pop(task["task_id"]["value"], None)

    def offerRescinded(self, driver: Any, offer_id: Any) -> None:
        with self._lock:
            self._note("rescinded")

    def statusUpdate(self, driver: Any, status: Any) -> None:
        task_id = status["task_id"]["value"]
        state = status.get("state")
        with self._lock:
            self._note("updates")
            if "uuid" in status:
                self._note("updates_with_uuid")
            if state not in TERMINAL:
                return
            if "uuid" not in status and status.get("reason") == "REASON_MASTER_DISCONNECTED":
                # The driver's own verdict on a launch that did not reach the master (as the Mesos
                # driver's): the ACCEPT may have been written before the connection broke, so the
                # task may exist after all and finish later: a failed launch, as when the call raises.
                if self.in_flight.pop(task_id, None) is not None:
                    self._failed_launches[task_id] = None
                    while len(self._failed_launches) > FAILED_LAUNCHES_KEPT:
                        del self._failed_launches[next(iter(self._failed_launches))]
                self._note("launch_not_delivered")
                return
            if "uuid" not in status and state not in MASTER_VERDICTS:
                # The master's word on a task it knows (reconciliation's "latest state"): the
                # agent's own update, with its uuid, is still to come (or to be resent).
                self._note("reconciled_state")
                return
            if task_id in self.in_flight:
                del self.in_flight[task_id]
            elif task_id in self._failed_launches:
                del self._failed_launches[task_id]  # its ACCEPT's answer was lost, not the launch
                self._note("launched_unknowingly")
            else:
                self._note("terminal_again")  # resent: its acknowledgement had not reached the master
                return
            self._note("terminal")
            self._note("terminal_executor" if "uuid" in status else "terminal_master")
            if state != "TASK_FINISHED":
                self._note(state.lower())

    def error(self, driver: Any, message: str) -> None:
        with self._lock:
            if len(self.errors) < 20:
                self.errors.append(message)
            self._note("error")

    # -- mesos-auth callbacks -----------------------------------------------------------------

    def authenticated(self, driver: Any, principal: str) -> None:
        with self._lock:
            self._note("authenticated")

    def tokenRefreshed(self, driver: Any, info: TokenInfo) -> None:
        with self._lock:
            self._note("token_refreshed")

    def authenticationFailed(self, driver: Any, error: Exception) -> None:
        with self._lock:
            self.auth_failures[type(error).__name__] += 1
            self._note("authentication_failed")
            # A call refused twice says so; any other AuthenticationFailedError is a SUBSCRIBE's 401.
            if type(error).__name__ == "AuthenticationFailedError" and "refused twice" not in str(error):
                self.subscribe_401_streak += 1
                self.subscribe_401_longest = max(self.subscribe_401_longest, self.subscribe_401_streak)


class Framework:
    """One framework: its account, token provider, scheduler and driver."""

    def __init__(
        self,
        index: int,
        uid: str,
        secret: Dict[str, Any],
        master: str,
        ca_bundle: Optional[str],
        *,
        frameworks: int = 1,
        tasks_per_offer: int = 1,
        max_in_flight: int = 8,
        seed: int = 0,
    ) -> None:
        from mesos_auth.account import ServiceAccount

        self.index = index
        self.uid = uid
        self.scheduler = LoadScheduler(
            index, frameworks, tasks_per_offer=tasks_per_offer, max_in_flight=max_in_flight, seed=seed
        )
        account = ServiceAccount.from_info(secret, source=f"the soak cluster ({uid})")
        self.provider = TokenProvider(account, ca_bundle=ca_bundle, security_mode="strict", retry=FAST_LOGIN_RETRY)
        framework = {"user": "nobody", "name": f"soak-framework-{index}", "failover_timeout": 3600.0, "principal": uid}
        self.driver = create_driver(
            self.scheduler,
            framework,
            master,
            security_mode="strict",
            ca_bundle=ca_bundle,
            token_provider=self.provider,
            resubscribe_backoff=FAST_BACKOFF,
            call_timeout=10.0,
        )

    def start(self) -> None:
        self.driver.start()
        thread = getattr(self.driver, "_stream_thread", None)
        if thread is not None:
            thread.name = f"stream {self.uid}"  # whose lines these are, in --log

    def stop(self) -> None:
        """Stop with failover (no TEARDOWN: the framework would come back) and join."""
        self.driver.stop(failover=True)
        thread: Optional[threading.Thread] = getattr(self.driver, "_stream_thread", None)
        if thread is not None:
            thread.join(timeout=30)

    @property
    def connected(self) -> bool:
        return bool(self.driver.connected)
