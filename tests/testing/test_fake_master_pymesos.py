"""FakeMaster against the real client: plain pymesos registers, launches and stops.

pymesos installs a SIGINT handler when imported, so it is imported here, in the
test (pytest's main thread), never at collection time by a helper thread.
"""

from __future__ import annotations

import threading
from typing import Any, List

from .test_fake_master_support import serve

DEADLINE = 30.0


def test_pymesos_registers_launches_and_sees_task_finished() -> None:
    from pymesos import MesosSchedulerDriver, Scheduler

    registered = threading.Event()
    finished = threading.Event()
    states: List[str] = []
    launched: List[str] = []

    class OneTaskScheduler(Scheduler):  # type: ignore[misc]
        def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
            registered.set()

        def resourceOffers(self, driver: Any, offers: Any) -> None:
            for offer in offers:
                if launched:
                    driver.declineOffer(offer.id, {"refuse_seconds": 3600})
                    continue
                task = {
                    "task_id": {"value": "pymesos-task"},
                    "agent_id": offer.agent_id,
                    "name": "pymesos-task",
                    "command": {"value": "true"},
                    "resources": [
                        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                    ],
                }
                launched.append(task["task_id"]["value"])
                driver.launchTasks(offer.id, [task])

        def statusUpdate(self, driver: Any, update: Any) -> None:
            states.append(update.state)
            if update.state == "TASK_FINISHED":
                finished.set()

    with serve(security_mode="disabled") as master:
        framework = {"user": "nobody", "name": "pymesos-against-the-fake"}
        driver = MesosSchedulerDriver(OneTaskScheduler(), framework, master.address, use_addict=True)
        driver.start()
        try:
            assert registered.wait(DEADLINE), "pymesos never registered"
            assert finished.wait(DEADLINE), f"no TASK_FINISHED; states {states}"
        finally:
            driver.stop()
            driver.join()
        assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        (framework_id,) = master.frameworks
        master.wait_for(lambda: master.frameworks[framework_id].state == "torn_down", timeout=DEADLINE)
        # pymesos acknowledged every update implicitly, with the uuids it was given.
        assert len(master.calls_of_type("ACKNOWLEDGE")) == 3
        assert master.task_records["pymesos-task"].unacknowledged == 0
        assert [r.path for r in master.requests if r.method == "GET"] == ["/version"]


def test_pymesos_is_refused_with_401_by_a_strict_master(monkeypatch) -> None:
    """What a real strict cluster does to pymesos, which only knows HTTP Basic auth:
    SUBSCRIBE without a token is answered 401, and pymesos dies of it."""
    import pymesos.process
    from pymesos import MesosSchedulerDriver, Scheduler

    from .test_fake_master_support import StubIAM

    interrupts: List[Any] = []
    # pymesos re-raises the IO thread's error in the main thread through SIGINT:
    # record it instead, so that it cannot hit whatever this test runs next.
    monkeypatch.setattr(pymesos.process.thread, "interrupt_main", lambda *a: interrupts.append(a))
    monkeypatch.setattr(pymesos.process, "_exc_info", None)
    with serve(security_mode="strict", iam=StubIAM()) as master:
        driver = MesosSchedulerDriver(Scheduler(), {"user": "nobody", "name": "pymesos"}, master.address)
        driver.start()
        try:
            master.wait_for(lambda: any(r.call_type == "SUBSCRIBE" for r in master.requests), timeout=DEADLINE)
            master.wait_for(lambda: interrupts, timeout=DEADLINE, what="pymesos' IO thread to die")
        finally:
            driver.stop()
            driver.join()
        [subscribe] = [r for r in master.requests if r.call_type == "SUBSCRIBE"]
        assert subscribe.status == 401
        assert "Authorization" not in subscribe.headers
        assert master.frameworks == {}
    # pymesos' own failure: RuntimeError("Failed with HTTP 401 ..."), or, when the
    # 401's body arrived in the same read, its bytes/str bug (docs/protocol.md, "pymesos 0.3.15").
    error = pymesos.process._exc_info[1]
    assert isinstance(error, (RuntimeError, TypeError))
