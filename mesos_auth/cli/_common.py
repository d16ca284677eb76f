"""What the subcommands share: the account options, refusing to overwrite, time text.

The account options (``--secret``, ``--security-mode``, ``--ca-bundle``) resolve
exactly as the driver resolves its arguments: the same functions, in the same
order, with the same environment variables, so that what ``login`` and
``doctor`` report is what a framework started here would do.
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path
from typing import Mapping, Optional

from mesos_auth._files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_file
from mesos_auth.account import looks_like_json, refuse_unless_path
from mesos_auth.ca import CA_BUNDLE_ENV, CABundle, resolve_ca_bundle
from mesos_auth.discovery import AccountResolution, resolve_service_account
from mesos_auth.errors import ConfigurationError
from mesos_auth.security_mode import SECURITY_MODE_ENV, SecurityMode, detect_security_mode

__all__ = ["PRIVATE_FILE_MODE", "PUBLIC_FILE_MODE", "write_file"]


# --------------------------------------------------------------------------
# The account options
# --------------------------------------------------------------------------


def add_account_options(parser: argparse.ArgumentParser) -> None:
    """``--secret``, ``--security-mode`` and ``--ca-bundle``, as the driver's arguments."""
    parser.add_argument(
        "--secret",
        metavar="PATH|JSON",
        help="the service account secret: a file path or the JSON itself, not the private key "
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
    return find_account(args.secret or None, environ)


def find_account(secret: Optional[str], environ: Optional[Mapping[str, str]] = None) -> AccountResolution:
    """As the driver resolves ``service_account=secret``; errors about the value name ``--secret``.

    A ``--secret`` that is neither JSON nor a plausible path (``"$(cat key.pem)"``)
    is described, never echoed: it may be the key.
    """
    if secret and not looks_like_json(secret):
        refuse_unless_path(secret, "--secret")
    return resolve_service_account(secret, environ=environ)


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
