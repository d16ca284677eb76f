#!/usr/bin/env python3
"""Make one virtualenv per third-party client that the ``interop`` tox env runs.

Each client (avmesos, dcoshelpers, the DC/OS CLI library ``dcos``) pins
dependencies that clash with ours or with each other (PyJWT 1.x against our
PyJWT 2, a PyJWT 1.4 that imports only on Python 3.9), so each gets a venv of its
own on the Python it installs on, filled from
``tests/interop/requirements/<client>.txt``. The tests run the client in that
venv as a subprocess, the fake cluster in the test process.

A venv is made again only when its requirements file or Python changed (a stamp
file inside it records both), so a second ``tox -e interop`` costs nothing here.

Usage: ``python tools/interop_clients.py DIRECTORY [CLIENT ...]``; the tests find
the venvs through ``$MESOS_AUTH_INTEROP_CLIENTS`` (tox.ini sets both).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

REQUIREMENTS_DIR = Path(__file__).resolve().parent.parent / "tests" / "interop" / "requirements"
STAMP = "interop-stamp.txt"

#: The Python each client runs on: where its pinned requirements install and import.
CLIENT_PYTHONS: Dict[str, str] = {
    "avmesos": "python3.11",
    "dcoshelpers": "python3.11",
    # dcos 0.6.1 pins PyJWT==1.4.2, which imports collections.Mapping: gone in 3.10.
    "dcos": "python3.9",
}


def venv_python(venv: Path) -> Path:
    """The interpreter inside ``venv``."""
    return venv / "bin" / "python"


def _stamp_text(client: str, python: str) -> str:
    requirements = (REQUIREMENTS_DIR / f"{client}.txt").read_bytes()
    version = subprocess.run(  # noqa: S603 (an interpreter found on PATH, fixed arguments)
        [python, "-c", "import sys; print(sys.version)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return f"{version}\n{hashlib.sha256(requirements).hexdigest()}\n"


def ensure_client(directory: Path, client: str) -> Path:
    """The venv of ``client`` under ``directory``, made or remade as needed."""
    name = CLIENT_PYTHONS[client]
    python = shutil.which(name)
    if python is None:
        raise SystemExit(f"interop_clients: {name} (for {client}) is not on PATH; scripts/test puts pyenv's there")
    venv = directory / client
    stamp = _stamp_text(client, python)
    stamp_file = venv / STAMP
    if stamp_file.is_file() and stamp_file.read_text() == stamp and venv_python(venv).exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    print(f"interop_clients: making the {client} venv on {name}", flush=True)
    subprocess.run([python, "-m", "venv", str(venv)], check=True)  # noqa: S603
    pip = [str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check", "--quiet"]
    requirements = REQUIREMENTS_DIR / f"{client}.txt"
    subprocess.run([*pip, "install", "--no-deps", "-r", str(requirements)], check=True)  # noqa: S603
    # --no-deps above keeps the pins exact; pip check proves the pinned set complete.
    subprocess.run([*pip, "check"], check=True)  # noqa: S603
    stamp_file.write_text(stamp)
    return venv


def main(argv: List[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[0]).resolve()
    clients = argv[1:] or sorted(CLIENT_PYTHONS)
    unknown = [c for c in clients if c not in CLIENT_PYTHONS]
    if unknown:
        print(f"interop_clients: unknown client(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    directory.mkdir(parents=True, exist_ok=True)
    for client in clients:
        ensure_client(directory, client)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
