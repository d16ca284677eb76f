"""``mesos-auth run -- COMMAND [ARGS...]``: run a framework you cannot edit, authenticated.

COMMAND runs with :func:`mesos_auth.install` active in every Python process it
starts: the directory of mesos-auth's bootstrap ``sitecustomize`` goes first on
``PYTHONPATH`` (see ``mesos_auth/_bootstrap/sitecustomize.py``), so console scripts
(``toil ...``), ``python -m pkg``, ``python script.py`` and the Python processes
those start are covered, as long as they use this installation of mesos-auth.
Each pymesos driver they create then authenticates as the service account of the
environment (``DCOS_SERVICE_ACCOUNT_CREDENTIAL`` ...), as ``create_driver`` does.

On POSIX the command replaces this process (``exec``): its exit code and the
signals sent to it are its own, with nothing in between. Nothing is written to a
file and nothing secret is put on a command line: the credentials stay in the
environment the command inherits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from mesos_auth.errors import ConfigurationError

#: The directory put first on PYTHONPATH: it holds mesos-auth's bootstrap sitecustomize.py.
BOOTSTRAP_DIR = str(Path(__file__).resolve().parent.parent / "_bootstrap")


class MissingCommandError(ConfigurationError):
    """``mesos-auth run`` was given no command, or one that cannot be found or run (exit code 2)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "run",
        help="run a command whose pymesos drivers authenticate as the service account",
        description=(
            "Run COMMAND so that every pymesos driver it creates (in any Python process it starts) "
            "authenticates as the service account in the environment, with TLS and recovery, "
            "without editing it. Example: mesos-auth run -- toil --batchSystem mesos ..."
        ),
    )
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARGS...]")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    return run_command(command)


def run_command(command: Sequence[str], environ: Optional[Mapping[str, str]] = None) -> int:
    """Run ``command`` with the hook on; on POSIX this process becomes the command (no return)."""
    if not command:
        raise MissingCommandError("no command given: mesos-auth run -- COMMAND [ARGS...]")
    env = run_environment(os.environ if environ is None else environ)
    executable = find_executable(command[0], env.get("PATH"))
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name != "posix":  # pragma: no cover - no exec with the same process there
        return subprocess.call([executable, *command[1:]], env=env)  # noqa: S603 - the user's own command
    os.execve(executable, list(command), env)  # noqa: S606 - the user's own command
    raise AssertionError("unreachable")  # pragma: no cover


def run_environment(environ: Mapping[str, str]) -> Dict[str, str]:
    """``environ`` with the bootstrap directory first on ``PYTHONPATH``, once; the other entries kept as they were."""
    env = dict(environ)
    existing = env.get("PYTHONPATH", "")
    entries: List[str] = [entry for entry in existing.split(os.pathsep) if entry != BOOTSTRAP_DIR] if existing else []
    env["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP_DIR, *entries])
    return env


def find_executable(name: str, path: Optional[str]) -> str:
    """The file ``name`` runs, looked up on ``path`` as a shell would; :class:`MissingCommandError` if none."""
    found = shutil.which(name, path=path)
    if found is not None:
        return found
    if os.sep in name or (os.altsep and os.altsep in name):
        if os.path.isdir(name):
            raise MissingCommandError(f"cannot run {name!r}: it is a directory")
        if os.path.exists(name):
            raise MissingCommandError(f"cannot run {name!r}: it is not executable")
        raise MissingCommandError(f"cannot run {name!r}: no such file")
    raise MissingCommandError(f"command not found: {name!r} (not on PATH)")
