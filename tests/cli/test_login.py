"""``mesos-auth login`` against a real fake IAM over HTTPS, with a CA made here."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, List

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.cli import main
from mesos_auth.login_diagnosis import key_fingerprint
from mesos_auth.testing import FakeIAM, TestCA
from tests.cli.auth_support import assert_no_secrets, closed_port, write_secret


def login(*args: str) -> List[str]:
    return ["login", *args]


def test_logs_in_and_shows_expiry_and_lifetime_but_not_the_token(
    iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any
) -> None:
    code = main(login("--secret", str(secret), "--security-mode", "strict", "--ca-bundle", ca.ca_bundle))

    out, err = capsys.readouterr()
    assert code == 0, err
    assert "logged in as 'alice'" in out
    assert f"login endpoint: {iam.login_endpoint}" in out
    assert f"secret from:    file {secret}" in out
    assert "security mode:  strict" in out
    assert f"CA bundle:      {ca.ca_bundle} (from arguments)" in out
    expires = re.search(r"token expires:  (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) \(in (\S+) days\)", out)
    assert expires is not None, out
    assert float(expires.group(2)) == pytest.approx(5, abs=0.01)
    # The IAM writes exp in whole seconds, rounded down: the lifetime seen here is a second short at most.
    assert re.search(r"token lifetime: 5 days \((431999|432000) s\)", out), out
    assert iam.logins_for("alice") == 1
    assert_no_secrets(out, err)


def test_show_token_prints_a_token_the_iam_issued(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    assert main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle, "--show-token")) == 0
    out = capsys.readouterr().out
    token = out.strip().splitlines()[-1]
    assert iam.verify_token(token) == "alice"
    assert "PRIVATE KEY" not in out


def test_finds_everything_where_the_driver_does(
    iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", secret.as_uri())
    monkeypatch.setenv("MESOS_AUTH_CA_BUNDLE", ca.ca_bundle)
    monkeypatch.setenv("MESOS_AUTH_SECURITY_MODE", "strict")

    assert main(["login"]) == 0

    out = capsys.readouterr().out
    assert f"secret from:    $DCOS_SERVICE_ACCOUNT_CREDENTIAL -> {secret}" in out
    assert "security mode:  strict" in out
    assert f"CA bundle:      {ca.ca_bundle} (from $MESOS_AUTH_CA_BUNDLE)" in out


@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [(2 * 3600, "in 2 hours"), (45 * 60, "in 45 minutes"), (30 * 3600, "in 30 hours")],
)
def test_expiry_in_hours_or_minutes(
    iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any, lifetime: float, expected: str
) -> None:
    iam.token_lifetime = lifetime
    assert main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle)) == 0
    out = capsys.readouterr().out
    # Whole seconds are lost between the IAM's exp and our clock: allow the unit's rounding.
    number, unit = expected.split()[1:]
    match = re.search(rf"\(in ([\d.]+) {unit}\)", out)
    assert match is not None, out
    assert float(match.group(1)) == pytest.approx(float(number), abs=0.1)


def test_no_secret_is_a_configuration_error(iam: FakeIAM, capsys: Any) -> None:
    assert main(["login"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mesos-auth login: mesos-auth login needs a service account, but none was found")
    assert "DCOS_SERVICE_ACCOUNT_CREDENTIAL" in err and err.count("\n") == 1


def test_a_refused_login_exits_3_with_the_iam_message_and_hint(
    iam: FakeIAM, ca: TestCA, tmp_path: Path, capsys: Any
) -> None:
    stranger = ServiceAccount(
        uid="stranger",
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        login_endpoint=iam.login_endpoint,
    )
    secret = write_secret(tmp_path / "stranger.json", stranger)

    assert main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle)) == 3

    out, err = capsys.readouterr()
    assert out == ""
    assert "rejected the login of 'stranger' (HTTP 401: ERR_INVALID_CREDENTIALS" in err
    # Our hint, not the IAM's words (the real IAM says only "Invalid credentials."):
    assert "check that the service account 'stranger' exists on this cluster" in err
    assert f"SHA-256 {key_fingerprint(stranger.private_key)} of the public key's DER" in err
    assert_no_secrets(out, err)


def test_an_untrusted_certificate_exits_4(iam: FakeIAM, secret: Path, tmp_path: Path, capsys: Any) -> None:
    other_ca = TestCA(tmp_path / "other-ca")
    assert main(login("--secret", str(secret), "--ca-bundle", other_ca.ca_bundle)) == 4
    err = capsys.readouterr().err
    assert "is not trusted by the CA bundle" in err
    assert iam.login_attempts == 0


def test_an_unreachable_iam_exits_4_when_the_deadline_passes(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    endpoint = f"https://127.0.0.1:{closed_port()}/acs/api/v1/auth/login"
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))
    started = time.monotonic()

    code = main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle, "--deadline", "0"))

    assert code == 4
    assert time.monotonic() - started < 10
    assert "could not log in at" in capsys.readouterr().err


def test_strict_mode_refuses_a_plain_http_endpoint_before_sending_anything(
    iam: FakeIAM, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(iam.http_login_endpoint))

    assert main(login("--secret", str(secret), "--security-mode", "strict")) == 2

    assert "refusing to send a login token over plain http" in capsys.readouterr().err
    assert iam.login_attempts == 0


def test_permissive_mode_logs_in_over_plain_http(
    iam: FakeIAM, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(iam.http_login_endpoint))
    assert main(login("--secret", str(secret), "--security-mode", "permissive")) == 0
    assert f"login endpoint: {iam.http_login_endpoint}" in capsys.readouterr().out


def test_inline_json_secret(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    assert main(login("--secret", secret.read_text(), "--ca-bundle", ca.ca_bundle)) == 0
    out, err = capsys.readouterr()
    assert "logged in as 'alice'" in out
    assert_no_secrets(out, err)
