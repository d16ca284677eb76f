"""The ``mesos-auth`` command: tools for framework authors and operators.

Each subcommand lives in a module of this package with ``add_parser(subparsers)``
and ``run(args) -> int``. Errors are one clear line on stderr; ``--debug`` adds
the traceback.

Exit codes (also in the README):

- 0: success;
- 1: the command ran and found a problem (a failed check, a failed demo);
- 2: bad usage or configuration (a malformed secret, a missing file, ...);
- 3: the IAM or the master refused the credentials;
- 4: the IAM or the master could not be reached (network, TLS);
- 130: interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from mesos_auth._version import __version__
from mesos_auth.errors import (
    ConfigurationError,
    IAMError,
    IAMUnavailableError,
    MesosAuthError,
    TransportError,
)

EXIT_OK, EXIT_PROBLEM, EXIT_CONFIG, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

#: The modules of the subcommands, in the order --help lists them.
SUBCOMMANDS = (
    "mesos_auth.cli.demo",
    "mesos_auth.cli.fake_cluster",
    "mesos_auth.cli.keypair",
    "mesos_auth.cli.secret",
    "mesos_auth.cli.login",
    "mesos_auth.cli.doctor",
    "mesos_auth.cli.permissions",
    "mesos_auth.cli.run",
)

#: Subcommands parsed without building (importing) the others.
FAST_PATHS = {"run": "mesos_auth.cli.run"}


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, (IAMUnavailableError, TransportError)):
        return EXIT_UNREACHABLE
    if isinstance(error, IAMError):
        return EXIT_REFUSED
    if isinstance(error, (ConfigurationError, ValueError, OSError)):
        return EXIT_CONFIG
    if isinstance(error, MesosAuthError):
        return EXIT_REFUSED
    return EXIT_PROBLEM


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of the subcommand module ``only`` (faster to build)."""
    parser = argparse.ArgumentParser(
        prog="mesos-auth", description="DC/OS service-account authentication for pymesos frameworks."
    )
    parser.add_argument("--version", action="version", version=f"mesos-auth {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in SUBCOMMANDS if only is None else (only,):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # not built yet
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    # `mesos-auth run` starts the user's program: it does not wait for the other subcommands' imports.
    parser = build_parser(only=FAST_PATHS.get(arguments[0]) if arguments else None)
    args = parser.parse_args(arguments)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("mesos-auth: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        if args.debug:
            raise
        print(f"mesos-auth {args.command}: {error}", file=sys.stderr)
        return exit_code_for(error)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
