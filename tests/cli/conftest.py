"""Fixtures of the CLI tests that talk to a fake IAM: one per module, reset per test,
holding the account 'alice' whose secret each test writes to its own tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from mesos_auth.account import ServiceAccount
from mesos_auth.testing import FakeIAM, TestCA
from tests.cli.auth_support import clean_environment, write_secret


@pytest.fixture(scope="module")
def shared_iam(ca: TestCA) -> Iterator[FakeIAM]:
    with FakeIAM(tls=ca) as fake:
        yield fake


@pytest.fixture(scope="module")
def alice(shared_iam: FakeIAM) -> ServiceAccount:
    return shared_iam.create_account("alice")


@pytest.fixture
def iam(shared_iam: FakeIAM, alice: ServiceAccount, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIAM]:
    clean_environment(monkeypatch)
    shared_iam.reset()
    shared_iam.add_account("alice", alice.private_key.public_key())
    yield shared_iam
    shared_iam.check()


@pytest.fixture
def secret(tmp_path: Path, alice: ServiceAccount) -> Path:
    return write_secret(tmp_path / "secret.json", alice)
