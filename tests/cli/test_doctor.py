"""``mesos-auth doctor``: every misconfiguration on its list, found and explained.

Each test sets up one thing wrong, against a real fake IAM and fake master over
HTTPS with a CA made here (plain http where the case needs it), runs the doctor
through ``main()`` and reads its checklist back. The checks are also tested one
at a time over a :class:`DoctorContext`. No output may hold a key or a token.
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any, Dict, Iterator, List, NamedTuple, Optional

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.cli import _checks as checks
from mesos_auth.cli import main
from mesos_auth.cli._checks import Check, DoctorContext, Result, Status, run_checks
from mesos_auth.cli.doctor import format_results
from mesos_auth.login_diagnosis import key_fingerprint
from mesos_auth.retry import RetryPolicy
from mesos_auth.testing import FakeIAM, FakeMaster, TestCA
from tests.cli.auth_support import (
    assert_check_shape,
    assert_no_secrets,
    closed_port,
    subprocess_environment,
    write_secret,
)

CHECK_NAMES = [check.name for check in checks.CHECKS]


# --------------------------------------------------------------------------
# Fakes: one CA, IAM and strict master per module, reset before each test
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("doctor-other-ca"), name="some other CA")


@pytest.fixture(scope="module")
def shared_master(ca: TestCA, shared_iam: FakeIAM) -> Iterator[FakeMaster]:
    with FakeMaster(security_mode="strict", iam=shared_iam, tls=ca) as fake:
        yield fake


@pytest.fixture
def master(shared_master: FakeMaster, iam: FakeIAM) -> Iterator[FakeMaster]:
    shared_master.reset()
    yield shared_master
    shared_master.check()


# --------------------------------------------------------------------------
# Running the doctor and reading its checklist
# --------------------------------------------------------------------------


class Line(NamedTuple):
    status: str
    summary: str
    fix: Optional[str]


class Report(NamedTuple):
    code: int
    out: str
    lines: Dict[str, Line]

    def status(self, name: str) -> str:
        return self.lines[name].status

    def statuses(self) -> Dict[str, str]:
        return {name: line.status for name, line in self.lines.items()}


LINE = re.compile(r"^\[(ok|FAIL|warn|skip)\]\s+([a-z-]+): (.*)$")


def parse(out: str) -> Dict[str, Line]:
    lines: Dict[str, Line] = {}
    rows = out.splitlines()
    for index, row in enumerate(rows):
        match = LINE.match(row)
        if match is None:
            continue
        following = rows[index + 1] if index + 1 < len(rows) else ""
        fix = following.strip()[len("fix: ") :] if following.strip().startswith("fix: ") else None
        lines[match.group(2)] = Line(match.group(1), match.group(3), fix)
    return lines


def run_doctor(capsys: Any, *args: str) -> Report:
    code = main(["doctor", *args])
    out, err = capsys.readouterr()
    assert_no_secrets(out, err)
    assert err == ""
    lines = parse(out)
    assert list(lines) == CHECK_NAMES, out  # one line per check, in order
    for line in lines.values():
        assert (line.fix is not None) == (line.status == "FAIL") or line.status == "warn", out
    failed = any(line.status == "FAIL" for line in lines.values())
    assert code == (1 if failed else 0)
    return Report(code, out, lines)


def strict(secret: Path, ca: TestCA, *extra: str) -> List[str]:
    return ["--secret", str(secret), "--security-mode", "strict", "--ca-bundle", ca.ca_bundle, *extra]


def only_failure(report: Report, name: str) -> Line:
    failed = [other for other, line in report.lines.items() if line.status == "FAIL"]
    assert failed == [name], report.out
    return report.lines[name]


# --------------------------------------------------------------------------
# All green
# --------------------------------------------------------------------------


def test_all_green(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, alice: ServiceAccount, secret: Path, tmp_path: Path, capsys: Any
) -> None:
    config = tmp_path / "framework.json"
    config.write_text(json.dumps({"name": "my-framework", "principal": "alice", "role": "*"}))
    iam.grant_permission("alice", "dcos:mesos:master:framework:role:*", "create")
    try:
        report = run_doctor(
            capsys, *strict(secret, ca, "--master", master.https_url, "--framework-config", str(config))
        )
    finally:
        iam.clear_acls()  # the module's IAM keeps ACLs across reset()

    assert report.code == 0
    assert set(report.statuses().values()) == {"ok"}, report.out
    assert report.out.rstrip().endswith("11 checks: 11 ok, 0 failed, 0 warning(s), 0 skipped")
    assert f"found in file {secret}: uid 'alice'" in report.lines["secret"].summary
    assert report.lines["transport"].summary == "strict mode (from --security-mode), https login endpoint"
    assert report.lines["key"].summary == (
        f"RSA key of 2048 bits; its public key's SHA-256 (DER) is {key_fingerprint(alice.private_key)}"
    )
    assert "trusts the IAM's certificate" in report.lines["ca-bundle"].summary
    assert "logged in as 'alice'" in report.lines["login"].summary
    assert "(in 5 days)" in report.lines["login"].summary
    assert "Mesos 1.11.0" in report.lines["master"].summary
    assert "accepts the token" in report.lines["master-auth"].summary
    assert iam.logins_for("alice") == 1
    probes = master.calls_of_type("RECONCILE")
    assert len(probes) == 1 and probes[0].principal == "alice" and probes[0].status == 400


def test_all_green_from_the_environment(
    iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DCOS_SERVICE_ACCOUNT_CREDENTIAL", secret.as_uri())
    monkeypatch.setenv("MESOS_AUTH_CA_BUNDLE", ca.ca_bundle)
    monkeypatch.setenv("MESOS_AUTH_SECURITY_MODE", "strict")

    report = run_doctor(capsys)

    assert report.code == 0
    assert f"$DCOS_SERVICE_ACCOUNT_CREDENTIAL -> {secret}" in report.lines["secret"].summary
    assert "(from $MESOS_AUTH_SECURITY_MODE)" in report.lines["transport"].summary
    assert f"CA bundle {ca.ca_bundle} (from $MESOS_AUTH_CA_BUNDLE)" in report.lines["ca-bundle"].summary
    assert report.status("principal") == report.status("master") == "skip"


# --------------------------------------------------------------------------
# The secret and its key
# --------------------------------------------------------------------------


def test_malformed_secret(iam: FakeIAM, ca: TestCA, tmp_path: Path, capsys: Any) -> None:
    broken = tmp_path / "secret.json"
    broken.write_text('{"uid": "alice", "private_key": ')

    report = run_doctor(capsys, *strict(broken, ca))

    line = only_failure(report, "secret")
    assert line.summary.startswith(f"the secret from file {broken}: is not valid JSON")
    assert line.fix == "check that the whole secret was copied, quotes and braces included"
    assert report.status("login") == "skip"
    assert iam.login_attempts == 0


def test_secret_missing_a_field(iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any) -> None:
    info = alice.to_info()
    del info["login_endpoint"]
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(info))

    line = only_failure(run_doctor(capsys, *strict(path, ca)), "secret")

    assert "missing or empty 'login_endpoint'" in line.summary
    assert line.fix is not None and "login_endpoint" in line.fix


def test_secret_file_missing(iam: FakeIAM, ca: TestCA, tmp_path: Path, capsys: Any) -> None:
    line = only_failure(run_doctor(capsys, *strict(tmp_path / "nowhere.json", ca)), "secret")
    assert line.summary == f"the secret file {tmp_path / 'nowhere.json'} named by --secret does not exist"
    assert line.fix is not None and line.fix.startswith("pass the path of the service account's secret JSON")
    assert "mesos-auth secret --uid UID" in line.fix
    assert_check_shape(line.summary, line.fix)


def test_a_key_given_as_the_secret_is_described_not_shown(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, capsys: Any
) -> None:
    key_pem = alice.to_info()["private_key"]

    report = run_doctor(capsys, *strict(key_pem, ca))

    line = only_failure(report, "secret")
    assert line.summary.startswith("the secret from --secret: is not JSON, and not a path: it is a value of ")
    assert "holds a PEM private key (give the secret JSON, not the key)" in line.summary
    assert_no_secrets(report.out)


def test_no_secret_anywhere_in_strict_mode(iam: FakeIAM, ca: TestCA, capsys: Any) -> None:
    report = run_doctor(capsys, "--security-mode", "strict", "--ca-bundle", ca.ca_bundle)

    line = only_failure(report, "secret")
    assert "no service account secret found" in line.summary
    assert "$DCOS_SERVICE_ACCOUNT_CREDENTIAL (not set)" in line.summary
    assert line.fix == checks.FIX_NO_SECRET
    assert {name for name, status in report.statuses().items() if status == "skip"} >= {"key", "login", "clock"}


def test_no_secret_in_permissive_mode_is_a_warning(iam: FakeIAM, capsys: Any) -> None:
    report = run_doctor(capsys)
    assert report.status("secret") == "warn"
    assert "permissive mode the framework would run unauthenticated" in report.lines["secret"].summary
    assert report.lines["secret"].fix == checks.FIX_NO_SECRET
    assert report.lines["transport"].summary.startswith("permissive mode (the default: nothing sets the mode)")
    assert report.code == 0


def test_non_rsa_key(iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any) -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    path = write_secret(tmp_path / "secret.json", alice, private_key=ec_pem)

    report = run_doctor(capsys, *strict(path, ca))

    assert report.status("secret") == "ok"
    line = only_failure(report, "key")
    assert "is an EC key, not RSA" in line.summary
    assert line.fix == checks.FIX_NOT_RSA
    assert report.status("login") == "skip"


def test_small_rsa_key_fails_the_key_check(iam: FakeIAM, ca: TestCA, tmp_path: Path, capsys: Any) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose
    iam.add_account("small", small.public_key())
    info = {
        "scheme": "RS256",
        "uid": "small",
        "private_key": small.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        "login_endpoint": iam.login_endpoint,
    }
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(info))

    report = run_doctor(capsys, *strict(path, ca))

    assert report.status("secret") == "ok"  # well-formed, but for its key: the key check says why
    line = only_failure(report, "key")
    assert "is a 1024-bit RSA key; at least 2048 bits are required" in line.summary
    assert line.fix == checks.FIX_WEAK_KEY and "mesos-auth keypair" in line.fix
    assert report.status("login") == "skip"
    assert report.code == 1
    assert iam.login_attempts == 0
    assert_no_secrets(report.out)


# --------------------------------------------------------------------------
# Endpoint and mode, CA bundle, IAM
# --------------------------------------------------------------------------


def test_strict_mode_with_an_http_endpoint(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    path = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(iam.http_login_endpoint))

    report = run_doctor(capsys, *strict(path, ca))

    line = only_failure(report, "transport")
    assert "the login token would travel in clear" in line.summary
    assert line.fix == checks.FIX_STRICT_HTTP
    assert report.lines["login"] == Line(
        "skip", "strict mode refuses the plain-http login endpoint (see 'transport')", None
    )
    assert report.status("ca-bundle") == "skip"
    assert report.status("iam") == report.status("clock") == "ok"  # a GET without credentials is harmless
    assert iam.login_attempts == 0  # no login token was sent in clear


def test_permissive_mode_with_an_http_endpoint_is_ok_with_a_note(
    iam: FakeIAM, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    path = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(iam.http_login_endpoint))

    report = run_doctor(capsys, "--secret", str(path), "--security-mode", "permissive")

    assert report.lines["transport"] == Line(
        "ok",
        "permissive mode (from --security-mode), plain-http login endpoint: allowed, but note the login token "
        "travels in clear",
        None,
    )
    assert report.status("login") == "ok"
    assert report.code == 0


def test_ca_bundle_missing(iam: FakeIAM, secret: Path, tmp_path: Path, capsys: Any) -> None:
    missing = tmp_path / "ca-bundle.crt"

    report = run_doctor(capsys, "--secret", str(secret), "--security-mode", "strict", "--ca-bundle", str(missing))

    line = only_failure(report, "ca-bundle")
    assert line.summary == f"CA bundle {missing} (from --ca-bundle) does not exist"
    assert line.fix == checks.FIX_CA_MISSING
    assert report.lines["login"].summary == "no usable CA bundle (see 'ca-bundle')"
    assert iam.login_attempts == 0


def test_ca_bundle_of_another_ca(iam: FakeIAM, other_ca: TestCA, secret: Path, capsys: Any) -> None:
    report = run_doctor(capsys, *strict(secret, other_ca))

    line = only_failure(report, "ca-bundle")
    assert f"is not trusted by CA bundle {other_ca.ca_bundle} (from --ca-bundle)" in line.summary
    assert "unable to get local issuer certificate" in line.summary
    assert line.fix == checks.FIX_CA_UNTRUSTED
    assert report.lines["login"].summary == "the IAM's certificate is not trusted (see 'ca-bundle')"
    assert iam.login_attempts == 0


def test_no_ca_bundle_falls_back_to_the_system_store_which_does_not_trust_the_cluster(
    iam: FakeIAM, secret: Path, capsys: Any
) -> None:
    report = run_doctor(capsys, "--secret", str(secret), "--security-mode", "strict")

    line = only_failure(report, "ca-bundle")
    assert "is not trusted by the system trust store" in line.summary
    assert line.fix == checks.FIX_CA_UNTRUSTED


def test_iam_unreachable_on_a_closed_port(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    port = closed_port()
    endpoint = f"https://127.0.0.1:{port}/acs/api/v1/auth/login"
    path = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))

    report = run_doctor(capsys, *strict(path, ca))

    line = only_failure(report, "iam")
    assert line.summary.startswith(f"cannot connect to the IAM at 127.0.0.1:{port}")
    assert line.fix == checks.FIX_IAM_DOWN
    assert report.status("ca-bundle") == "skip"  # could not be tested: it says why
    assert "could not be tested" in report.lines["ca-bundle"].summary
    assert report.lines["login"].summary == "the IAM is not reachable (see 'iam')"
    assert report.lines["clock"].summary == "no HTTP answer from the IAM to compare clocks with (see 'iam')"


def test_iam_down(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    iam.go_down()

    report = run_doctor(capsys, *strict(secret, ca))

    line = only_failure(report, "iam")
    assert "127.0.0.1" in line.summary
    assert line.fix == checks.FIX_IAM_DOWN
    assert report.status("login") == "skip"
    assert iam.login_count == 0


# --------------------------------------------------------------------------
# Login and clock
# --------------------------------------------------------------------------


# The real IAM answers every credential problem with "Invalid credentials.": the doctor's
# findings must not depend on the fake's words. The cause is read from iam.events.


def login_refusals(iam: FakeIAM) -> List[str]:
    return [event.reason for event in iam.events if event.path.endswith("/login") and event.status == 401]


def test_login_refused_for_an_unknown_account(iam: FakeIAM, ca: TestCA, tmp_path: Path, capsys: Any) -> None:
    stranger = ServiceAccount(
        uid="stranger",
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        login_endpoint=iam.login_endpoint,
    )
    path = write_secret(tmp_path / "secret.json", stranger)

    report = run_doctor(capsys, *strict(path, ca))

    line = only_failure(report, "login")
    assert line.summary.startswith("the IAM refused the login of 'stranger' (HTTP 401: ERR_INVALID_CREDENTIALS")
    assert line.fix is not None
    assert line.fix.startswith(
        "the IAM does not say which check failed: check that the service account 'stranger' exists on this cluster"
    )
    assert "dcos security org service-accounts show stranger" in line.fix
    assert line.fix.endswith("so the login token had not expired")
    assert report.status("clock") == "ok"
    assert login_refusals(iam) == ["unknown-uid"]


def test_login_refused_for_a_key_that_is_not_registered(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    impostor = ServiceAccount(
        uid="alice",
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        login_endpoint=iam.login_endpoint,
    )
    path = write_secret(tmp_path / "secret.json", impostor)

    report = run_doctor(capsys, *strict(path, ca))

    line = only_failure(report, "login")
    fingerprint = key_fingerprint(impostor.private_key)
    assert fingerprint != key_fingerprint(alice.private_key)
    assert fingerprint in report.lines["key"].summary  # the key check shows it too
    assert line.fix is not None and f"SHA-256 {fingerprint} of the public key's DER" in line.fix
    assert "openssl pkey -pubin" in line.fix
    assert login_refusals(iam) == ["bad-signature"]


def test_an_iam_clock_far_ahead_fails_the_login_and_names_the_cause(
    iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any
) -> None:
    iam.shift_clock(3600)  # by the IAM's clock our login token's exp has passed

    report = run_doctor(capsys, *strict(secret, ca))

    failed = {name for name, status in report.statuses().items() if status == "FAIL"}
    assert failed == {"login", "clock"}, report.out
    login = report.lines["login"]
    assert login.fix is not None and re.match(
        r"likely cause: the IAM's clock is (3599|3600|3601) s ahead of this machine's .*more than the 180 s a "
        r"login token lives, so the IAM took it for expired: synchronise the clocks \(NTP\)",
        login.fix,
    ), login
    clock = report.lines["clock"]
    assert re.match(r"the IAM's clock is (3599|3600|3601) s ahead of this machine's", clock.summary), clock
    assert clock.summary.endswith(
        "more than the 180 s a login token lives, so the IAM took the login token for expired and refused the login"
    )
    assert clock.fix == checks.FIX_CLOCK
    assert login_refusals(iam) == ["expired"]


def test_an_iam_clock_far_behind_does_not_stop_the_login(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    # The IAM checks only that exp has not passed: a login token far in its future is accepted
    # (the real IAM logs a warning when it is more than ten minutes away). The clock still fails.
    iam.shift_clock(-3600)

    report = run_doctor(capsys, *strict(secret, ca))

    assert only_failure(report, "clock").summary.startswith("the IAM's clock is")
    assert re.match(r"the IAM's clock is (3599|3600|3601) s behind this machine's", report.lines["clock"].summary)
    assert report.status("login") == "ok"


def test_a_small_clock_skew_is_a_warning(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    iam.shift_clock(12)

    report = run_doctor(capsys, *strict(secret, ca))

    assert report.status("login") == "ok"
    assert report.status("clock") == "warn"
    assert report.lines["clock"].fix == checks.FIX_CLOCK
    assert report.code == 0


# --------------------------------------------------------------------------
# Principal
# --------------------------------------------------------------------------


def test_principal_mismatch_in_the_framework_config(
    iam: FakeIAM, ca: TestCA, secret: Path, tmp_path: Path, capsys: Any
) -> None:
    config = tmp_path / "framework.json"
    config.write_text(json.dumps({"name": "my-framework", "principal": "bob"}))

    line = only_failure(run_doctor(capsys, *strict(secret, ca, "--framework-config", str(config))), "principal")

    assert line.summary.startswith(f"principal 'bob' from framework config {config} is not the service account 'alice'")
    assert line.fix == (
        f"set the principal to 'alice' in framework config {config} (or leave it unset: the driver fills it in), "
        "or use the secret of the account 'bob'"
    )


@pytest.mark.parametrize(
    ("config", "status", "expected"),
    [
        ({"name": "f"}, "ok", "principal unset in framework config {path}: the driver fills in 'alice'"),
        ({"framework_info": {"principal": "alice"}}, "ok", "is the service account's uid"),
        ("not json", "FAIL", "not valid JSON"),
        (["a", "list"], "FAIL", "expected a JSON object"),
        ({"principal": 7}, "FAIL", "'principal' must be a string"),
    ],
)
def test_framework_configs(
    iam: FakeIAM, ca: TestCA, secret: Path, tmp_path: Path, capsys: Any, config: Any, status: str, expected: str
) -> None:
    path = tmp_path / "framework.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))

    line = run_doctor(capsys, *strict(secret, ca, "--framework-config", str(path))).lines["principal"]

    assert line.status == status
    assert expected.format(path=path) in line.summary
    if status == "FAIL":
        assert line.fix == checks.FIX_FRAMEWORK_CONFIG


def test_principal_option(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    report = run_doctor(capsys, *strict(secret, ca, "--principal", "alice"))
    assert report.lines["principal"].summary == "principal 'alice' from --principal is the service account's uid"
    report = run_doctor(capsys, *strict(secret, ca, "--principal", "carol"))
    assert report.status("principal") == "FAIL"


# --------------------------------------------------------------------------
# Master
# --------------------------------------------------------------------------


def test_master_refusing_the_token(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    # A master of another cluster: its IAM never issued our token, so it does not verify.
    with FakeIAM(tls=ca) as elsewhere, FakeMaster(security_mode="strict", iam=elsewhere, tls=ca) as foreign:
        report = run_doctor(capsys, *strict(secret, ca, "--master", foreign.https_url))
        statuses = [request.status for request in foreign.requests if request.path == "/api/v1/scheduler"]

    line = only_failure(report, "master-auth")
    assert line.summary == f"the master at {foreign.https_url} refused the token (HTTP 401)"
    assert line.fix == checks.FIX_MASTER_401
    assert report.status("master") == "ok"
    assert statuses == [401]


def test_master_not_the_leader(iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, capsys: Any) -> None:
    master.set_leader("127.0.0.1:5050")

    report = run_doctor(capsys, *strict(secret, ca, "--master", master.https_url))

    line = report.lines["master-auth"]
    assert line.status == "warn"
    assert line.summary == f"{master.https_url} is not the leading master (the leader is https://127.0.0.1:5050)"
    assert line.fix == checks.FIX_NOT_LEADER
    assert report.code == 0


def test_master_unreachable(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    url = f"https://127.0.0.1:{closed_port()}"

    report = run_doctor(capsys, *strict(secret, ca, "--master", url))

    line = only_failure(report, "master")
    assert line.summary == f"cannot reach the master at {url} (Connection refused)"
    assert line.fix == checks.FIX_MASTER_DOWN
    assert_check_shape(line.summary, line.fix)
    assert report.lines["master-auth"].summary == "the master is not reachable (see 'master')"


def test_plain_http_master_in_strict_mode(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, capsys: Any
) -> None:
    line = only_failure(run_doctor(capsys, *strict(secret, ca, "--master", master.http_url)), "master")
    assert line.summary == f"strict mode and a plain-http master ({master.http_url})"
    assert line.fix == checks.FIX_MASTER_STRICT_HTTP
    assert master.requests == []  # nothing was sent


def test_master_with_a_certificate_of_another_ca(
    iam: FakeIAM, other_ca: TestCA, ca: TestCA, secret: Path, capsys: Any
) -> None:
    with FakeMaster(security_mode="strict", iam=iam, tls=other_ca) as foreign:
        line = only_failure(run_doctor(capsys, *strict(secret, ca, "--master", foreign.https_url)), "master")
    assert line.summary.startswith(
        f"the master is reachable, but the certificate of {foreign.https_url} is not trusted by CA bundle "
        f"{ca.ca_bundle} (from --ca-bundle) ("
    )
    assert line.fix == checks.FIX_CA_UNTRUSTED
    assert_check_shape(line.summary, line.fix)


def test_plain_http_sent_to_the_masters_tls_port(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, capsys: Any
) -> None:
    """A bare host:port outside strict mode means http; the master speaks TLS there."""
    netloc = master.https_url.split("://")[1]
    args = ["--secret", str(secret), "--security-mode", "permissive", "--ca-bundle", ca.ca_bundle]

    line = only_failure(run_doctor(capsys, *args, "--master", netloc), "master")

    assert line.summary == f"the master at http://{netloc} speaks TLS, but plain http was sent to it"
    assert line.fix == checks.fix_http_to_tls(netloc, bare=True)
    assert f"https://{netloc}" in line.fix and "MESOS_AUTH_SECURITY_MODE=strict" in line.fix
    assert_check_shape(line.summary, line.fix)
    assert master.requests == []


def test_https_sent_to_a_plain_http_port(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, capsys: Any
) -> None:
    url = "https://" + master.http_url.split("://")[1]

    line = only_failure(run_doctor(capsys, *strict(secret, ca, "--master", url)), "master")

    assert line.summary == f"the master at {url} accepts connections but does not speak TLS"
    assert line.fix == checks.FIX_MASTER_NOT_TLS
    assert_check_shape(line.summary, line.fix)


class Refusing(http.server.BaseHTTPRequestHandler):
    """A server that refuses everything with 403 and a long text, as a proxy in front of a master may."""

    def do_GET(self) -> None:
        body = ("Forbidden: " + "no entry " * 100 + "\nsecond line").encode()
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)


def test_a_master_that_refuses_says_its_status_and_text(
    iam: FakeIAM, secret: Path, ca: TestCA, refusing_server: str, capsys: Any
) -> None:
    args = ["--secret", str(secret), "--security-mode", "permissive", "--ca-bundle", ca.ca_bundle]

    report = run_doctor(capsys, *args, "--master", refusing_server)

    line = report.lines["master"]
    assert line.status == "FAIL"
    assert line.summary.startswith(
        f"the master at {refusing_server} is reachable but refused GET /version: HTTP 403 (Forbidden: no entry"
    )
    assert len(line.summary) < 250 and "second line" not in line.summary
    assert line.fix == checks.FIX_MASTER_REFUSING
    assert_check_shape(line.summary, line.fix)


def test_the_master_defaults_to_mesos_master_url(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESOS_MASTER_URL", master.https_url)

    report = run_doctor(capsys, *strict(secret, ca))

    assert report.code == 0, report.out
    assert report.lines["master"].summary == f"Mesos 1.11.0 at {master.https_url} (from $MESOS_MASTER_URL)"
    assert report.status("master-auth") == "ok"


def test_a_zookeeper_url_is_checked_through_its_leader(
    iam: FakeIAM,
    master: FakeMaster,
    ca: TestCA,
    secret: Path,
    zookeeper: Any,
    capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = "/doctor-" + uuid.uuid4().hex[:8]
    master.register_in_zookeeper(zookeeper.hosts, path)
    try:
        monkeypatch.setenv("MESOS_MASTER_URL", zookeeper.url(path))
        report = run_doctor(capsys, *strict(secret, ca))
    finally:
        master.unregister_from_zookeeper()

    assert report.code == 0, report.out
    expected = (
        f"Mesos 1.11.0 at {master.https_url} (the leader in ZooKeeper {zookeeper.url(path)}, from $MESOS_MASTER_URL)"
    )
    assert report.lines["master"].summary == expected
    assert report.status("master-auth") == "ok"


def test_a_zookeeper_group_without_masters(iam: FakeIAM, ca: TestCA, secret: Path, zookeeper: Any, capsys: Any) -> None:
    url = zookeeper.url("/doctor-empty-" + uuid.uuid4().hex[:8])

    line = only_failure(run_doctor(capsys, *strict(secret, ca, "--master", url)), "master")

    assert line.summary == f"no master has joined the ZooKeeper group {url}"
    assert line.fix == checks.FIX_ZOOKEEPER_EMPTY
    assert_check_shape(line.summary, line.fix)


def test_a_zookeeper_that_cannot_be_reached(iam: FakeIAM, ca: TestCA, secret: Path, capsys: Any) -> None:
    url = f"zk://127.0.0.1:{closed_port()}/mesos"

    line = only_failure(run_doctor(capsys, *strict(secret, ca, "--master", url, "--timeout", "1")), "master")

    assert line.summary == f"ZooKeeper {url} could not be reached within 1 s to find the leading master"
    assert line.fix == checks.FIX_ZOOKEEPER_DOWN
    assert_check_shape(line.summary, line.fix)


def test_an_iam_endpoint_in_plain_http_at_a_tls_port(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    endpoint = iam.login_endpoint.replace("https://", "http://")
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))

    report = run_doctor(capsys, "--secret", str(secret), "--security-mode", "permissive")

    line = report.lines["iam"]
    assert line.status == "FAIL", report.out
    assert (
        line.summary
        == f"the IAM at {endpoint.split('/')[2]} speaks TLS, but the login endpoint {endpoint} is plain http"
    )
    assert line.fix == checks.fix_login_http_to_tls(endpoint)
    assert_check_shape(line.summary, line.fix)


def test_an_iam_endpoint_in_https_at_a_plain_port(
    iam: FakeIAM, ca: TestCA, alice: ServiceAccount, tmp_path: Path, capsys: Any
) -> None:
    endpoint = iam.http_login_endpoint.replace("http://", "https://")
    secret = write_secret(tmp_path / "secret.json", alice.with_login_endpoint(endpoint))

    report = run_doctor(capsys, *strict(secret, ca))

    line = report.lines["iam"]
    assert line.status == "FAIL", report.out
    assert line.summary == f"the IAM at {endpoint.split('/')[2]} accepts connections but does not speak TLS"
    assert line.fix == checks.FIX_IAM_NOT_TLS
    assert_check_shape(line.summary, line.fix)


# --------------------------------------------------------------------------
# The real command
# --------------------------------------------------------------------------


def test_the_real_command_in_a_subprocess(
    iam: FakeIAM, master: FakeMaster, ca: TestCA, secret: Path, tmp_path: Path
) -> None:
    env = subprocess_environment(DCOS_SERVICE_ACCOUNT_CREDENTIAL=str(secret))
    command = [sys.executable, "-m", "mesos_auth", "doctor", "--security-mode", "strict"]
    command += ["--ca-bundle", ca.ca_bundle, "--master", master.https_url, "--principal", "alice"]

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))  # noqa: S603

    assert done.returncode == 0, done.stdout + done.stderr
    assert list(parse(done.stdout)) == CHECK_NAMES
    assert "11 checks: 10 ok, 0 failed, 0 warning(s), 1 skipped" in done.stdout
    assert_no_secrets(done.stdout, done.stderr)

    iam.remove_account("alice")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))  # noqa: S603
    assert done.returncode == 1
    assert parse(done.stdout)["login"].status == "FAIL"


# --------------------------------------------------------------------------
# The checks one by one
# --------------------------------------------------------------------------


def context(**values: Any) -> DoctorContext:
    values.setdefault("environ", {})
    values.setdefault("bootstrap_config", "/nonexistent/bootstrap-config.json")
    values.setdefault("node_ca_bundle", "/nonexistent/ca-bundle.crt")
    return DoctorContext(**values)


@pytest.mark.parametrize(
    ("skew", "time_problem", "status"),
    [
        (0.4, None, Status.OK),
        (-3.0, None, Status.OK),
        (6.0, None, Status.WARN),
        (-29.0, None, Status.WARN),
        (31.0, None, Status.FAIL),
        (-3600.0, None, Status.FAIL),
        (2.0, "the IAM refused the login: expired", Status.FAIL),
        (None, "the IAM refused the login: expired", Status.FAIL),
    ],
)
def test_check_clock(skew: Optional[float], time_problem: Optional[str], status: Status) -> None:
    ctx = context(skew=skew, login_time_problem=time_problem, iam_answered=True)
    result = checks.check_clock(ctx)
    assert result.status is status
    assert (result.fix == checks.FIX_CLOCK) == (status is not Status.OK)


def test_check_clock_without_an_answer() -> None:
    assert checks.check_clock(context()).status is Status.SKIP
    assert "no Date header" in checks.check_clock(context(iam_answered=True)).summary


@pytest.mark.parametrize(
    ("mode", "endpoint", "status"),
    [
        ("strict", "https://m/acs/api/v1/auth/login", Status.OK),
        ("strict", "http://m/acs/api/v1/auth/login", Status.FAIL),
        ("permissive", "http://m/acs/api/v1/auth/login", Status.OK),
        ("disabled", "http://m/acs/api/v1/auth/login", Status.OK),
    ],
)
def test_check_transport(alice: ServiceAccount, mode: str, endpoint: str, status: Status) -> None:
    ctx = context(security_mode=mode, account=alice.with_login_endpoint(endpoint))
    assert checks.check_transport(ctx).status is status
    assert ctx.endpoint_refused is (status is Status.FAIL)


def test_check_transport_with_an_unknown_mode_from_the_environment(alice: ServiceAccount) -> None:
    ctx = context(environ={"MESOS_AUTH_SECURITY_MODE": "paranoid"}, account=alice)
    result = checks.check_transport(ctx)
    assert result.status is Status.FAIL
    assert "unknown DC/OS security mode 'paranoid' from $MESOS_AUTH_SECURITY_MODE" in result.summary
    assert result.fix == checks.FIX_MODE


def test_check_secret_reads_the_environment_it_is_given(secret: Path) -> None:
    ctx = context(environ={"DCOS_SERVICE_ACCOUNT_CREDENTIAL": f"file://{secret}"})
    result = checks.check_secret(ctx)
    assert result.status is Status.OK
    assert ctx.account is not None and ctx.account.uid == "alice"


def test_check_secret_inline_json_and_an_unhealthy_iam(iam: FakeIAM, ca: TestCA, secret: Path) -> None:
    no_wait = RetryPolicy(initial_delay=0.0, jitter=0.0, max_attempts=2)
    ctx = context(secret=secret.read_text(), ca_bundle=ca.ca_bundle, security_mode="strict", login_retry=no_wait)
    result = checks.check_secret(ctx)
    assert result.status is Status.OK and result.summary.startswith("found in --secret (inline JSON): uid 'alice'")
    assert checks.check_ca_bundle(ctx).status is Status.OK
    assert checks.check_iam(ctx).status is Status.OK
    iam.fail_next_logins(2, status=503)

    result = checks.check_login(ctx)

    assert result.status is Status.FAIL
    assert result.summary == "the login of 'alice' failed 2 time(s), the last with HTTP 503"
    assert result.fix == checks.FIX_IAM_DOWN
    assert ctx.token is None


def test_check_principal_and_master_skip_without_their_options() -> None:
    assert checks.check_principal(context()) == Result(Status.SKIP, "no --framework-config or --principal given")
    none = Result(Status.SKIP, "no --master given and $MESOS_MASTER_URL is not set")
    assert checks.check_master(context()) == none
    assert checks.check_master_token(context()) == none


def test_the_token_is_not_in_the_context_repr() -> None:
    ctx = context(token="eyJhbGciOiJSUzI1NiJ9.eyJ1aWQiOiJhIn0.c2ln")
    assert "eyJ" not in repr(ctx)


def test_a_crashing_check_is_a_failure_unless_debugging() -> None:
    def broken(ctx: DoctorContext) -> Result:
        raise KeyError("oops")

    crashing = (Check("broken", broken),)
    ((_, result),) = run_checks(context(), crashing)
    assert result.status is Status.FAIL and "KeyError" in result.summary
    with pytest.raises(KeyError):
        run_checks(context(debug=True), crashing)


def test_format_results() -> None:
    results = [
        (Check("a", checks.check_secret), checks.ok("fine")),
        (Check("b", checks.check_secret), checks.fail("broken", "mend it")),
        (Check("c", checks.check_secret), checks.warn("meh", "tune it")),
        (Check("d", checks.check_secret), checks.skip("not now")),
    ]
    assert format_results(results) == [
        "[ok]   a: fine",
        "[FAIL] b: broken",
        "       fix: mend it",
        "[warn] c: meh",
        "       fix: tune it",
        "[skip] d: not now",
        "4 checks: 1 ok, 1 failed, 1 warning(s), 1 skipped",
    ]
