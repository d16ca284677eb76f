"""What the subcommands share: the account options, refusing to overwrite, time text.

The account options (``--secret``, ``--security-mode``, ``--ca-bundle``) resolve
exactly as the driver resolves its arguments: the same functions, in the same
order, with the same environment variables, so that what ``login`` and
``doctor`` report is what a framework started here would do.
"""

from __future__ import annotations

import argparse
import datetime
import re
from pathlib import Path
from typing import Mapping, Optional

from mesos_auth._files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_file
from mesos_auth.account import CREDENTIAL_ENV, looks_like_json, refuse_unless_path
from mesos_auth.ca import CA_BUNDLE_ENV, CABundle, resolve_ca_bundle
from mesos_auth.discovery import AccountResolution, resolve_service_account
from mesos_auth.errors import ConfigurationError, CredentialError
from mesos_auth.security_mode import SECURITY_MODE_ENV, SecurityMode, detect_security_mode

__all__ = ["PRIVATE_FILE_MODE", "PUBLIC_FILE_MODE", "write_file"]


# --------------------------------------------------------------------------
# Messages: one sentence for the cause, one for the fix
# --------------------------------------------------------------------------


def two_sentences(cause: str, fix: str) -> str:
    """``cause. Fix.``: the shape of every message the commands print about a failure.

    Both are given as clauses (lower case, no final period): the doctor prints them
    as they are, on a line each; a one-line error joins them as two sentences.
    """
    cause, fix = cause.strip().rstrip("."), fix.strip().rstrip(".")
    return f"{cause}. {fix[:1].upper()}{fix[1:]}."


class CommandError(ConfigurationError):
    """A problem a command found in what it was given, with its cause and its fix kept apart."""

    def __init__(self, cause: str, fix: str) -> None:
        self.cause, self.fix = cause, fix
        ConfigurationError.__init__(self, two_sentences(cause, fix))


#: OpenSSL's source location, ``(_ssl.c:1006)``: it names a file of CPython, not a cause.
_OPENSSL_LOCATION = re.compile(r"\s*\(_?ssl\.c:\d+\)")
#: OpenSSL's tag, ``[SSL: WRONG_VERSION_NUMBER] ``: its words follow it.
_OPENSSL_TAG = re.compile(r"\[(?:SSL|X509)(?:: [A-Z0-9_]+)?\]\s*")


def plain_reason(text: str, limit: int = 200) -> str:
    """A network or TLS error's words fit for a message: no CPython file names, no OpenSSL tags,
    one line, at most ``limit`` characters, and parentheses that balance (a capped text may
    have lost its closing ones; a stray closer is dropped).

    ``[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)`` -> ``wrong version number``.
    """
    text = _OPENSSL_TAG.sub("", _OPENSSL_LOCATION.sub("", text))
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    kept, depth = [], 0
    for char in text:
        if char == ")":
            if depth == 0:
                continue
            depth -= 1
        elif char == "(":
            depth += 1
        kept.append(char)
    return ("".join(kept) + ")" * depth).strip() or "no reason given"


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
    try:
        return resolve_service_account(secret, environ=environ)
    except CredentialError as error:
        if error.problem.startswith(_MISSING_FILE):
            raise SecretFileMissingError(error, given=bool(secret)) from None
        raise


#: How the library says that a secret's file does not exist (``account.py``, ``discovery.py``).
_MISSING_FILE = ("file not found", "names a file that does not exist")
#: What makes a secret: ``mesos-auth secret``, from the account's key (DC/OS writes the same JSON).
MAKE_SECRET = "mesos-auth secret --uid UID --private-key FILE --login-endpoint URL"


class SecretFileMissingError(CommandError, CredentialError):
    """``--secret`` (or ``$DCOS_SERVICE_ACCOUNT_CREDENTIAL``) names a file that does not exist.

    The library's own error says "file not found" and where it looked; this one adds
    the fix a newcomer needs: what the file is, and the command that makes it.
    """

    def __init__(self, error: CredentialError, *, given: bool) -> None:
        self.problem, self.source, self.field = error.problem, error.source, error.field
        where = error.source.split(" -> ", 1)[-1]
        if where.startswith("file "):
            where = where[len("file ") :]
        looked = re.search(r"\(looked at (.*)\)$", error.problem)
        elsewhere = f" (looked at {looked.group(1)})" if looked and looked.group(1) != where else ""
        named_by = "--secret" if given else f"${CREDENTIAL_ENV}"
        cause = f"the secret file {where} named by {named_by} does not exist{elsewhere}"
        fix = (
            f"pass the path of the service account's secret JSON with --secret or ${CREDENTIAL_ENV}, "
            f"or write that file with {MAKE_SECRET} "
            "(for an account made with dcos security org service-accounts create)"
        )
        CommandError.__init__(self, cause, fix)


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
