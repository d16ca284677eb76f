"""Registration and call overhead: create_driver versus plain pymesos, one run.

Against one fake master in permissive mode (plain pymesos can talk to nothing
stricter), in the same process:

- registration: from ``start()`` to the scheduler's ``registered`` callback, for
  plain pymesos, for ``create_driver`` with a service account logging in cold (a
  fresh TokenProvider: the IAM login is part of the time), and with a cached token;
- calls: the time of one REVIVE call, pymesos' ``_send`` versus ours (which adds
  the token header, TLS-ready connection handling and the 401 logic).

Medians over repeated runs; ratios are ours / pymesos'.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any, Callable, List, Optional

from pymesos import MesosSchedulerDriver, Scheduler

from mesos_auth import TokenProvider, create_driver
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.testing.master import FakeMaster

RUNS = 15
CALLS = 300
FRAMEWORK = {"user": "nobody", "name": "bench", "failover_timeout": 0.0}


class Registered(Scheduler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.event = threading.Event()

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        self.event.set()

    def resourceOffers(self, driver: Any, offers: Any) -> None:
        pass


def time_registration(make: Callable[[Registered], Any]) -> float:
    scheduler = Registered()
    driver = make(scheduler)
    started = time.perf_counter()
    driver.start()
    if not scheduler.event.wait(30):
        raise RuntimeError("no registration within 30 s")
    elapsed = time.perf_counter() - started
    driver.stop()
    driver.join()
    return elapsed


def time_calls(driver: Any) -> float:
    """Median seconds per REVIVE call on a registered driver."""
    durations: List[float] = []
    for _ in range(CALLS):
        started = time.perf_counter()
        driver.reviveOffers()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


def registered_driver(make: Callable[[Registered], Any]) -> Any:
    scheduler = Registered()
    driver = make(scheduler)
    driver.start()
    if not scheduler.event.wait(30):
        raise RuntimeError("no registration within 30 s")
    return driver


def main() -> None:
    with FakeIAM() as iam, FakeMaster(security_mode="permissive", iam=iam, heartbeat_interval=30) as master:
        account = iam.create_account("bench", endpoint=iam.http_login_endpoint)
        url = master.http_url
        shared: Optional[TokenProvider] = TokenProvider(account)
        shared.token()

        def plain(s: Registered) -> Any:
            return MesosSchedulerDriver(s, dict(FRAMEWORK), master.address)

        def cold(s: Registered) -> Any:
            return create_driver(s, dict(FRAMEWORK), url, security_mode="permissive", service_account=account)

        def cached(s: Registered) -> Any:
            return create_driver(s, dict(FRAMEWORK), url, security_mode="permissive", token_provider=shared)

        rows = []
        for name, make in (("plain pymesos", plain), ("create_driver, cold", cold), ("create_driver, cached", cached)):
            time_registration(make)  # warm-up
            rows.append((name, statistics.median(time_registration(make) for _ in range(RUNS))))
        baseline = rows[0][1]
        print(f"Registration, start() to registered(), median of {RUNS} runs")
        print(f"{'driver':<26}{'ms':>9}{'ratio':>9}")
        for name, seconds in rows:
            print(f"{name:<26}{seconds * 1000:>9.2f}{seconds / baseline:>8.2f}x")

        def anonymous(s: Registered) -> Any:
            return create_driver(s, dict(FRAMEWORK), url, security_mode="permissive", environ={})

        drivers = [("plain pymesos", registered_driver(plain))]
        drivers.append(("create_driver, no token", registered_driver(anonymous)))
        drivers.append(("create_driver, token", registered_driver(cached)))
        try:
            timings = [(name, time_calls(driver)) for name, driver in drivers]
        finally:
            for _, driver in drivers:
                driver.stop()
                driver.join()
        print(f"\nOne REVIVE call, median of {CALLS} (the token row includes the master verifying it)")
        print(f"{'driver':<26}{'us':>9}{'ratio':>9}{'added us':>10}")
        base_call = timings[0][1]
        for name, seconds in timings:
            print(f"{name:<26}{seconds * 1e6:>9.0f}{seconds / base_call:>8.2f}x{(seconds - base_call) * 1e6:>10.0f}")
        master.check()
        iam.check()


if __name__ == "__main__":
    main()
