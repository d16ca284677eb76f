"""Fakes for the driver tests: a fake IAM and fake masters per test, on the session's CA."""

from __future__ import annotations

import time
from typing import Any, Iterator

import pytest

from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.testing.master import FakeMaster


@pytest.fixture
def iam(fake_iam: Any) -> FakeIAM:
    return fake_iam(clock=time.time)  # the master's token checks and the driver share real time


def make_master(ca: TestCA, iam: FakeIAM, mode: str, **options: Any) -> FakeMaster:
    options.setdefault("heartbeat_interval", 0.5)
    options.setdefault("agents", [{"cpus": 4.0, "mem": 4096.0, "disk": 1000.0}])
    return FakeMaster(security_mode=mode, iam=iam, tls=ca, **options)


@pytest.fixture
def master_factory(ca: TestCA, iam: FakeIAM) -> Iterator[Any]:
    started = []

    def make(mode: str = "strict", **options: Any) -> FakeMaster:
        master = make_master(ca, iam, mode, **options).start()
        started.append(master)
        return master

    yield make
    for master in started:
        master.stop()
    for master in started:
        master.check()
