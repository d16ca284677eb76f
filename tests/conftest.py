"""Shared fixtures: real RSA keys and secrets made once per session, never committed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.testing import TestCA
from mesos_auth.testing.iam import FakeIAM
from tests.helpers import FakeClock

LOGIN_ENDPOINT = "https://master.mesos/acs/api/v1/auth/login"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any, fmt: str = "pkcs8", passphrase: bytes = b"") -> str:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    encryption = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, formats[fmt], encryption).decode()


@pytest.fixture
def secret_info(rsa_key: rsa.RSAPrivateKey) -> Dict[str, str]:
    return {"scheme": "RS256", "uid": "my-framework", "private_key": pem(rsa_key), "login_endpoint": LOGIN_ENDPOINT}


@pytest.fixture
def account(rsa_key: rsa.RSAPrivateKey) -> ServiceAccount:
    return ServiceAccount(uid="my-framework", private_key=rsa_key, login_endpoint=LOGIN_ENDPOINT)


@pytest.fixture
def write_secret(tmp_path: Path) -> Callable[..., Path]:
    def write(info: Any, name: str = "secret.json") -> Path:
        path = tmp_path / name
        path.write_text(info if isinstance(info, str) else json.dumps(info))
        return path

    return write


@pytest.fixture(scope="session")
def ca(tmp_path_factory: Any) -> TestCA:
    """One CA for the whole run: the fakes serve TLS with it, clients trust its bundle."""
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def clock() -> FakeClock:
    """A wall clock that moves only when told, for a test's client and fakes alike."""
    return FakeClock()


@pytest.fixture
def fake_iam(ca: TestCA, clock: FakeClock) -> Iterator[Callable[..., FakeIAM]]:
    """Starts FakeIAMs on the test's CA and clock; each is stopped and checked afterwards."""
    started: List[FakeIAM] = []

    def start(**options: Any) -> FakeIAM:
        options.setdefault("tls", ca)
        options.setdefault("clock", clock)
        server = FakeIAM(**options).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
    for server in started:
        server.check()


@pytest.fixture(scope="session")
def zookeeper(mesos_zookeeper: Any) -> Any:
    """One real ZooKeeper for the run (the plugin's ``mesos_zookeeper``); skipped only when it is not installed."""
    return mesos_zookeeper


@pytest.fixture
def main_thread_is_never_interrupted(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pymesos re-raises driver errors in the main thread via SIGINT; our drivers never may.
    Modules use it with ``pytestmark = pytest.mark.usefixtures("main_thread_is_never_interrupted")``."""
    import _thread

    calls: List[Any] = []
    monkeypatch.setattr(_thread, "interrupt_main", lambda *args: calls.append(args))
    yield
    assert calls == [], "the driver interrupted the main thread"
