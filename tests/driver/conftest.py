"""Fakes for the driver tests: a CA, a fake IAM and a fake master per test."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from mesos_auth.testing.master import FakeMaster


@pytest.fixture(scope="session")
def ca(tmp_path_factory: Any) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("driver-ca"))


@pytest.fixture
def iam(ca: TestCA) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca) as server:
        yield server
        server.check()


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
