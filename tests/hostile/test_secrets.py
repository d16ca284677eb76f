"""A secret value that fails to parse is described, never quoted: in exceptions, logs, stdout and stderr.

Each class of value that cannot be a path (a pasted PEM key, JSON quoted twice, a
byte-order mark, a value too long for a path, control characters) is built from a
real private key and fed to every door a secret comes in by: the environment
variable, ``service_account=``, and the CLI's ``--secret`` (in this process with
``main()``, and as a real command). No line of the key's body may come out.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any, Callable, Dict, List

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth import CredentialError, ServiceAccount, resolve_service_account
from mesos_auth.account import CREDENTIAL_ENV
from mesos_auth.cli import main
from tests.cli.auth_support import assert_no_secrets, clean_environment, subprocess_environment
from tests.conftest import LOGIN_ENDPOINT, pem

#: What each class of value is said to be, in the error.
DESCRIBED = {
    "pem": "holds a PEM private key (give the secret JSON, not the key)",
    "quoted twice": "a value that starts with a quote (was the JSON quoted twice?)",
    "single quotes": "a value that starts with a quote (was the JSON quoted twice?)",
    "bom": "a value that starts with a byte-order mark",
    "too long": "characters, too long for a path",
    "name too long": "characters between slashes, too long for a path",
    "control characters": "characters with line breaks or control characters",
}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


@pytest.fixture(scope="module")
def key_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return pem(rsa_key)


@pytest.fixture(scope="module")
def body(key_pem: str) -> List[str]:
    """The lines between -----BEGIN and -----END: none of them may ever be shown."""
    return [line for line in key_pem.splitlines() if line and not line.startswith("-----")]


def make_value(case: str, key_pem: str, body: List[str]) -> str:
    info = {"scheme": "RS256", "uid": "svc", "private_key": key_pem, "login_endpoint": LOGIN_ENDPOINT}
    joined = "".join(body)
    values: Dict[str, Callable[[], str]] = {
        "pem": lambda: key_pem,
        "quoted twice": lambda: json.dumps(json.dumps(info)),
        "single quotes": lambda: "'" + json.dumps(info) + "'",
        "bom": lambda: "\ufeff" + key_pem,
        "too long": lambda: joined * 3,
        "name too long": lambda: joined.replace("/", "_"),
        "control characters": lambda: "\n".join(body),
    }
    return values[case]()


def assert_key_absent(body: List[str], *texts: str) -> None:
    for text in texts:
        leaked = [number for number, line in enumerate(body) if line in text]
        assert not leaked, f"lines {leaked} of the key's body were shown"  # the numbers, never the lines
    assert_no_secrets(*texts)


def exception_texts(error: BaseException) -> List[str]:
    texts = [str(error), repr(error), *map(str, error.args)]
    texts += [str(getattr(error, name, "")) for name in ("problem", "source", "fix", "field")]
    return texts


CASES = sorted(DESCRIBED)


@pytest.mark.parametrize("case", CASES)
def test_the_variable(case: str, key_pem: str, body: List[str], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    value = make_value(case, key_pem, body)
    with pytest.raises(CredentialError) as caught:
        ServiceAccount.from_env({CREDENTIAL_ENV: value})
    assert DESCRIBED[case] in str(caught.value)
    assert caught.value.source == f"${CREDENTIAL_ENV}"
    assert_key_absent(body, *exception_texts(caught.value), caplog.text)


@pytest.mark.parametrize("case", CASES)
def test_the_service_account_argument(case: str, key_pem: str, body: List[str], caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    value = make_value(case, key_pem, body)
    with pytest.raises(CredentialError) as caught:
        resolve_service_account(value, environ={})
    assert DESCRIBED[case] in str(caught.value)
    assert_key_absent(body, *exception_texts(caught.value), caplog.text)


@pytest.mark.parametrize("case", CASES)
def test_login_secret_option(case: str, key_pem: str, body: List[str], capsys: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    value = make_value(case, key_pem, body)

    assert main(["login", "--secret", value]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("mesos-auth login: service account secret from --secret: is not JSON, and not a path")
    assert DESCRIBED[case] in err and err.count("\n") == 1
    assert_key_absent(body, out, err, caplog.text)


@pytest.mark.parametrize("case", CASES)
def test_login_from_the_variable(
    case: str, key_pem: str, body: List[str], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CREDENTIAL_ENV, make_value(case, key_pem, body))

    assert main(["login"]) == 2

    out, err = capsys.readouterr()
    assert DESCRIBED[case] in err
    assert_key_absent(body, out, err)


@pytest.mark.parametrize("case", CASES)
def test_doctor_secret_option(case: str, key_pem: str, body: List[str], capsys: Any) -> None:
    assert main(["doctor", "--secret", make_value(case, key_pem, body), "--security-mode", "strict"]) == 1

    out, err = capsys.readouterr()
    assert "[FAIL] secret: the secret from --secret: is not JSON, and not a path" in out
    assert DESCRIBED[case] in out
    assert_key_absent(body, out, err)


@pytest.mark.parametrize("case", ["pem", "quoted twice", "control characters"])
@pytest.mark.timeout(60)
def test_the_real_command(case: str, key_pem: str, body: List[str]) -> None:
    """``mesos-auth login --secret "$(cat key.pem)"``: the mistake that used to print the key."""
    done = subprocess.run(  # noqa: S603 - our interpreter, our package
        [sys.executable, "-m", "mesos_auth", "login", "--secret", make_value(case, key_pem, body)],
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:] if "PRIVATE KEY" not in done.stderr else "(hidden)"
    assert DESCRIBED[case] in done.stderr
    assert_key_absent(body, done.stdout, done.stderr)


@pytest.mark.parametrize("case", ["pem", "quoted twice"])
def test_debug_tracebacks_hold_no_key(case: str, key_pem: str, body: List[str]) -> None:
    """Even ``--debug``, which shows the traceback, shows the description only."""
    done = subprocess.run(  # noqa: S603 - our interpreter, our package
        [sys.executable, "-m", "mesos_auth", "--debug", "login", "--secret", make_value(case, key_pem, body)],
        env=subprocess_environment(),
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode != 0
    assert "Traceback" in done.stderr and DESCRIBED[case] in done.stderr
    assert_key_absent(body, done.stdout, done.stderr)


def test_a_plausible_path_is_still_quoted(tmp_path: Any, capsys: Any) -> None:
    """The rule cuts both ways: an ordinary missing path is named, so that it can be fixed."""
    missing = tmp_path / "secrets" / "service-account.json"
    assert main(["login", "--secret", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and "Pass the path of" in err
