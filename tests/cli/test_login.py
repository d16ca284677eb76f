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
from mesos_auth.cli._common import plain_reason, two_sentences
from mesos_auth.login_diagnosis import key_fingerprint
from mesos_auth.testing import FakeIAM, TestCA
from tests.cli.auth_support import assert_message_shape, assert_no_secrets, closed_port, write_secret


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
    assert f"the IAM's certificate at {iam.login_endpoint} is not trusted by the CA bundle" in err
    assert "(from --ca-bundle) (unable to get local issuer certificate)" in err
    assert "Pass the cluster's CA bundle with --ca-bundle or $MESOS_AUTH_CA_BUNDLE" in err
    assert_message_shape(message(err))
    assert iam.login_attempts == 0


def message(err: str, command: str = "login") -> str:
    """The one line a failed command printed, without its ``mesos-auth login: `` prefix."""
    assert err.startswith(f"mesos-auth {command}: ") and err.count("\n") == 1, err
    return err[len(f"mesos-auth {command}: ") :].strip()


def test_an_unreachable_iam_exits_4_when_the_deadline_passes(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    endpoint = f"https://127.0.0.1:{closed_port()}/acs/api/v1/auth/login"
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))
    started = time.monotonic()

    code = main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle, "--deadline", "0"))

    assert code == 4
    assert time.monotonic() - started < 10
    said = message(capsys.readouterr().err)
    assert said.startswith(f"the IAM at 127.0.0.1:{endpoint.split(':')[2].split('/')[0]} cannot be reached (")
    assert "Check that the IAM is up" in said
    assert_message_shape(said)


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


# --------------------------------------------------------------------------
# Failures, each in two sentences: the cause, then the fix
# --------------------------------------------------------------------------


def test_a_secret_file_that_does_not_exist_names_the_fix(iam: FakeIAM, capsys: Any) -> None:
    assert main(login("--secret", "/nope.json")) == 2
    said = message(capsys.readouterr().err)
    assert said.startswith("the secret file /nope.json named by --secret does not exist. ")
    assert "Pass the path of the service account's secret JSON with --secret" in said
    assert "mesos-auth secret --uid UID --private-key FILE --login-endpoint URL" in said
    assert_message_shape(said)


def test_a_relative_secret_path_says_where_it_was_looked_for(
    iam: FakeIAM, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(login("--secret", "nope.json")) == 2
    said = message(capsys.readouterr().err)
    assert said.startswith(f"the secret file nope.json named by --secret does not exist (looked at {tmp_path}")
    assert_message_shape(said)


def test_a_secret_file_named_by_the_environment_that_does_not_exist(
    iam: FakeIAM, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", str(tmp_path / "gone.json"))
    assert main(["login"]) == 2
    said = message(capsys.readouterr().err)
    assert said.startswith(f"the secret file {tmp_path / 'gone.json'} named by $DCOS_SERVICE_ACCOUNT_CREDENTIAL does")
    assert_message_shape(said)


def test_https_sent_to_a_plain_http_port(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    """The case that showed ``(_ssl.c:1000)``: OpenSSL's "wrong version number"."""
    endpoint = iam.http_login_endpoint.replace("http://", "https://")
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))

    assert main(login("--secret", str(secret), "--ca-bundle", ca.ca_bundle, "--deadline", "0")) == 4

    said = message(capsys.readouterr().err)
    netloc = endpoint.split("/")[2]
    assert said.startswith(f"the IAM at {netloc} does not speak TLS, but the login endpoint {endpoint} is https. ")
    assert "Check the port of the login_endpoint in the secret" in said
    assert_message_shape(said)


def test_plain_http_sent_to_a_tls_port(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    """The other way round, which looked like "Connection reset by peer"."""
    endpoint = iam.login_endpoint.replace("https://", "http://")
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))

    code = main(login("--secret", str(secret), "--security-mode", "permissive", "--deadline", "0"))

    # The IAM client may tell it itself (a configuration error), else login's diagnosis does.
    assert code in (2, 4)
    said = message(capsys.readouterr().err)
    https = endpoint.replace("http://", "https://")
    assert "speaks TLS" in said and f"Use {https} as the login" in said
    assert_message_shape(said)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", "wrong version number"),
        (
            "a connection error (SSLError: [SSL] record layer failure (_ssl.c:1000))",
            "a connection error (SSLError: record layer failure)",
        ),
        ("a connection error (SSLError: cut sho", "a connection error (SSLError: cut sho)"),
        ("stray) closer", "stray closer"),
        ("[X509: KEY_VALUES_MISMATCH] key values mismatch (_ssl.c:4000)", "key values mismatch"),
        ("", "no reason given"),
    ],
)
def test_plain_reason(text: str, expected: str) -> None:
    assert plain_reason(text) == expected


def test_plain_reason_caps_and_still_balances() -> None:
    said = plain_reason("(" + "x" * 500 + ")", limit=50)
    assert len(said) <= 51 and said.endswith("...)")


def test_two_sentences() -> None:
    assert two_sentences("the port is closed", "open it.") == "the port is closed. Open it."
