"""What the subcommands share: the account options, safe file writing, time text.

The account options (``--secret``, ``--security-mode``, ``--ca-bundle``) resolve
exactly as the driver resolves its arguments: the same functions, in the same
order, with the same environment variables, so that what ``login`` and
``doctor`` report is what a framework started here would do.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import tempfile
from pathlib import Path
from typing import Mapping, Optional

from mesos_auth.ca import CA_BUNDLE_ENV, CABundle, resolve_ca_bundle
from mesos_auth.discovery import AccountResolution, resolve_service_account
from mesos_auth.errors import ConfigurationError
from mesos_auth.security_mode import SECURITY_MODE_ENV, SecurityMode, detect_security_mode

#: Mode of files that hold a private key: owner read/write, nobody else anything.
PRIVATE_FILE_MODE = 0o600
#: Mode of files anyone may read (a public key).
PUBLIC_FILE_MODE = 0o644


# --------------------------------------------------------------------------
# The account options
# --------------------------------------------------------------------------


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """``--secret``, ``--security-mode`` and ``--ca-bundle``, as the driver's arguments."""
    parser.add_argument(
        "--secret",
        metavar="PATH|JSON",
        help="the service account secret: a file path or the JSON itself "
        "(default: $DCOS_SERVICE_ACCOUNT_CREDENTIAL, as the driver reads it)",
    )
    parser.add_argument(
        "--security-mode",
        metavar="MODE",
        choices=[mode.value for mode in SecurityMode],
        help=f"disabled, permissive or strict (default: ${SECURITY_MODE_ENV}, then the node's "
        "bootstrap config, else permissive)",
    )
    parser.add_argument(
        "--ca-bundle",
        metavar="PATH",
        help=f"CA certificate file to verify the cluster with (default: ${CA_BUNDLE_ENV}, "
        "$MESOS_SANDBOX/.ssl/ca-bundle.crt, /run/dcos/pki/CA/ca-bundle.crt, else the system store)",
    )


def resolve_account(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None) -> AccountResolution:
    """The account from ``--secret``, else ``$DCOS_SERVICE_ACCOUNT_CREDENTIAL``."""
    return resolve_service_account(args.secret or None, environ=environ)


def resolve_mode(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None) -> SecurityMode:
    return detect_security_mode(args.security_mode, environ=environ)


def resolve_bundle(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None) -> CABundle:
    return resolve_ca_bundle(args.ca_bundle or None, environ=environ)


# --------------------------------------------------------------------------
# Writing files that must never be readable by others
# --------------------------------------------------------------------------


def refuse_existing(*paths: Path) -> None:
    """Raise unless every path is free: nothing is overwritten without --force."""
    for path in paths:
        if path.exists() or path.is_symlink():
            raise ConfigurationError(f"{path} already exists: choose another name, or pass --force to overwrite it")


def write_file(path: Path, data: bytes, *, mode: int, force: bool) -> None:
    """Write ``data`` to ``path``, created with ``mode`` from its first byte.

    Without ``force`` the file is created with ``O_EXCL`` (an existing file, or a
    symlink planted there, is an error). With ``force`` the data goes to a new
    temporary file in the same directory, created with ``mode``, then renamed
    over the target: an existing file's looser mode is never inherited, and a
    reader never sees a half-written file.
    """
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), mode)
        except FileExistsError:
            raise ConfigurationError(
                f"{path} already exists: choose another name, or pass --force to overwrite it"
            ) from None
        _write_all(fd, data, path, remove_on_error=True)
        return
    # mkstemp creates the file with O_EXCL and mode 0600; chmod only loosens to ``mode`` if asked.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, mode)
        _write_all(fd, data, Path(temporary), remove_on_error=False)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_all(fd: int, data: bytes, path: Path, *, remove_on_error: bool) -> None:
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if remove_on_error:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise


# --------------------------------------------------------------------------
# Times as people read them
# --------------------------------------------------------------------------


def iso_utc(timestamp: float) -> str:
    """``2030-01-02T03:04:05Z``."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: float) -> str:
    """A length of time in the largest unit that keeps it readable: "5 days", "2 hours", "45 minutes".

    A unit is used from two of it on, after rounding to a tenth: 7199 s is "2 hours".
    """
    seconds = abs(seconds)
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        amount = round(seconds / size, 1)
        if amount >= 2:
            return _plural(amount, unit)
    return _plural(round(seconds), "second")


def relative(seconds: float) -> str:
    """``in 5 hours`` for a time ahead, ``3 minutes ago`` for one past."""
    return f"in {duration(seconds)}" if seconds >= 0 else f"{duration(seconds)} ago"


def _plural(amount: float, unit: str) -> str:
    text = f"{amount:g}"
    return f"{text} {unit}" if text == "1" else f"{text} {unit}s"
