#!/usr/bin/env python3
"""tox's ``install_command``: pip install, with the http-parser wheelhouse on 3.11+.

tox runs this with the interpreter of the environment it is filling. On Python
3.11 and newer it first makes sure the pure-Python http-parser wheel exists (see
``http_parser_wheel.py`` beside this file: it loads ``mesos_auth/install_http_parser.py``
by path, as mesos-auth is not installed yet), then runs pip with ``--find-links``
pointing at it, so that ``pymesos`` installs. On 3.9 and 3.10 it runs pip as is:
there the normal install, C parser included, works.

The wheelhouse is ``$MESOS_AUTH_WHEELHOUSE`` (tox.ini sets it under .tox/).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_parser_wheel import WheelBuildError, ensure_wheel

NEEDS_PURE_WHEEL = sys.version_info >= (3, 11)


def pip_command(args: list, wheelhouse: Path) -> list:
    """The pip command line for ``args``, with ``--find-links`` when needed."""
    command = [sys.executable, "-m", "pip", "install"]
    if NEEDS_PURE_WHEEL:
        command += ["--find-links", str(wheelhouse)]
    return command + args


def main() -> int:
    wheelhouse = Path(os.environ.get("MESOS_AUTH_WHEELHOUSE", "wheelhouse")).resolve()
    if NEEDS_PURE_WHEEL:
        try:
            ensure_wheel(wheelhouse)
        except WheelBuildError as exc:
            print(f"tox_install: {exc}", file=sys.stderr)
            return 1
    command = pip_command(sys.argv[1:], wheelhouse)
    sys.stdout.flush()
    os.execv(command[0], command)  # noqa: S606 (our own interpreter, fixed arguments)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
