"""Helpers for the tests of keypair, secret, login and doctor: secrets on disk,
a clean environment, a port nobody listens on, and the check that no output
holds a private key or a token."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import mesos_auth
from mesos_auth.account import ServiceAccount

#: A JWT: a base64url JSON header ('{"' encodes as "eyJ"), a payload, a signature.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")

#: Variables the commands read; the tests set what they need and nothing leaks in.
ENVIRONMENT = (
    "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
    "MESOS_AUTH_CA_BUNDLE",
    "MESOS_AUTH_SECURITY_MODE",
    "MESOS_AUTH_KEY_PASSPHRASE",
    "MESOS_SANDBOX",
    "MESOS_MASTER_URL",
)


def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


def assert_no_secrets(*texts: str) -> None:
    """No private key and no token in any of ``texts`` (without quoting them on failure)."""
    for text in texts:
        has_key = "PRIVATE KEY" in text
        assert not has_key, "the output holds a private key"
        has_token = JWT.search(text) is not None
        assert not has_token, "the output holds a token"


def write_secret(path: Path, account: ServiceAccount, **overrides: Any) -> Path:
    """The account's secret as DC/OS writes it, in a file only its owner may read."""
    info = account.to_info()
    info.update(overrides)
    path.write_text(json.dumps(info), encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def mesos_auth_command() -> List[str]:
    """How a user starts the command: the ``mesos-auth`` console script beside this interpreter.

    Not ``python -m mesos_auth``: ``-m`` puts the working directory first on the path,
    and from a checkout that is another copy of mesos_auth than the installed one
    (under tox), which ``mesos-auth run``'s bootstrap then refuses to mix.
    """
    script = Path(sys.executable).with_name("mesos-auth")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mesos_auth"]


def subprocess_environment(**variables: str) -> Dict[str, str]:
    """The environment for running ``python -m mesos_auth``: the same package as this process
    imports (not some other installed copy), and none of the variables the commands read."""
    env = {name: value for name, value in os.environ.items() if name not in ENVIRONMENT}
    source = str(Path(mesos_auth.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH", "")]))
    env.update(variables)
    return env


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound by the OS, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


#: The verbs a fix may start with: it tells the reader what to do.
FIX_VERBS = {"check", "give", "pass", "point", "set", "use", "make", "run", "wait", "recreate", "synchronise"}
#: A sentence ends with a period followed by a space and a capital (URLs and paths hold periods too).
SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


def assert_message_shape(text: str) -> None:
    """One sentence for the cause, one for the fix (which starts with a verb), no internal file names
    (``_ssl.c:1006``, OpenSSL's ``[SSL: ...]`` tags), and parentheses that balance."""
    assert "_ssl.c" not in text and "[SSL" not in text, text
    assert "\n" not in text.strip(), text
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        assert depth >= 0, text
    assert depth == 0, text
    assert text.endswith("."), text
    sentences = SENTENCE_END.split(text.rstrip("."))
    assert len(sentences) == 2, text
    assert sentences[1].split()[0].lower() in FIX_VERBS, text


def assert_check_shape(summary: str, fix: str) -> None:
    """A doctor line: the summary is the cause, the fix starts with a verb; both as :func:`assert_message_shape`."""
    assert_message_shape(f"{summary}. {fix[:1].upper()}{fix[1:]}.")
