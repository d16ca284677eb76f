"""Real third-party clients from PyPI against FakeCluster (strict mode, TLS): the ``interop`` tox env.

Collected only when ``$MESOS_AUTH_INTEROP_CLIENTS`` names the folder of the
clients' venvs, which only the ``interop`` env sets (after making them with
``tools/interop_clients.py``): the default ``pytest`` runs skip this folder.

Each client runs as a subprocess in its own venv (``clients/<script>.py``), the
fakes in the test process. The script reads its instructions (the service
account's secret among them) as JSON on stdin and prints a JSON result; what
it prints is shown with tokens and keys blotted out.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

from mesos_auth.testing import FakeCluster

CLIENTS_ENV = "MESOS_AUTH_INTEROP_CLIENTS"

if not os.environ.get(CLIENTS_ENV):
    collect_ignore_glob = ["test_*.py"]

SCRIPTS = Path(__file__).resolve().parent / "clients"
#: A client run's bound: far above the few seconds one takes, below pytest-timeout's 120 s.
CLIENT_TIMEOUT = 90.0

_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)


def blotted(text: str) -> str:
    """``text`` with every JWT and PEM block replaced, fit for a failure message."""
    return _PEM.sub("<pem>", _JWT.sub("<jwt>", text))


def leaks(text: str) -> bool:
    """True when ``text`` shows a JWT or a PEM block."""
    return bool(_JWT.search(text) or _PEM.search(text))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """A strict cluster with TLS; short heartbeats, as avmesos handles an event when the next one comes."""
    with FakeCluster("strict", tls=True, directory=tmp_path / "cluster", heartbeat_interval=0.5) as fake:
        yield fake
        fake.check()


@pytest.fixture
def run_client(tmp_path: Path) -> Callable[[str, str, Dict[str, Any]], Dict[str, Any]]:
    """Run ``clients/<script>`` in the venv of ``client``; return its JSON result.

    The script gets a private working folder (``workdir``, also its HOME and
    cwd) and an environment of its own, so nothing from ours (DCOS_*,
    REQUESTS_CA_BUNDLE, ...) steers the client. A run that fails, or whose
    output shows a token or a key, fails the test.
    """

    def run(client: str, script: str, config: Dict[str, Any]) -> Dict[str, Any]:
        python = Path(os.environ[CLIENTS_ENV]) / client / "bin" / "python"
        if not python.exists():
            pytest.fail(f"no {client} venv: run `{sys.executable} tools/interop_clients.py ${CLIENTS_ENV}` first")
        workdir = tmp_path / f"{client}-work"
        workdir.mkdir(mode=0o700)
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "PYTHONDONTWRITEBYTECODE": "1"}
        completed = subprocess.run(  # noqa: S603 (our venv's interpreter, our script)
            [str(python), str(SCRIPTS / script)],
            input=json.dumps({**config, "workdir": str(workdir)}),
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
            env=env,
            cwd=workdir,
        )
        output = completed.stdout + completed.stderr
        shown = f"stdout:\n{blotted(completed.stdout)[-4000:]}\nstderr:\n{blotted(completed.stderr)[-4000:]}"
        if completed.returncode != 0:
            pytest.fail(f"{script} exited {completed.returncode}\n{shown}")
        if leaks(output):
            pytest.fail(f"{script} printed a token or a key\n{shown}")
        lines = completed.stdout.strip().splitlines()
        if not lines:
            pytest.fail(f"{script} printed no result\n{shown}")
        result: Dict[str, Any] = json.loads(lines[-1])
        result["stderr"] = completed.stderr
        return result

    return run
