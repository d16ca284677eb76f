"""``mesos-auth secret``: make a service account secret from a uid, a key and an endpoint.

Everything goes through :meth:`ServiceAccount.from_key_file`, so a bad key, uid or
endpoint gets the library's own :class:`~mesos_auth.errors.CredentialError`. The
secret, ``{"scheme", "uid", "private_key", "login_endpoint"}`` with the key as
unencrypted PKCS#8 (as DC/OS stores it), is written to a file created with mode
0600; it goes to stdout only when asked for with ``--out -``. The instructions go
to stderr then, so that stdout holds the JSON alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional, TextIO
from urllib.parse import urlsplit

from mesos_auth._files import PRIVATE_FILE_MODE, write_file
from mesos_auth.account import CREDENTIAL_ENV, ServiceAccount
from mesos_auth.errors import ConfigurationError

STDOUT = "-"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "secret",
        help="make a service account secret (JSON) from a uid, a private key and a login endpoint",
        description="Check the pieces as the driver would and write the secret JSON "
        '{"scheme", "uid", "private_key", "login_endpoint"} to a file with mode 0600.',
    )
    parser.add_argument("--uid", required=True, help="the service account's name")
    parser.add_argument("--private-key", required=True, metavar="FILE", help="the account's PEM private key")
    parser.add_argument(
        "--login-endpoint",
        required=True,
        metavar="URL",
        help="the IAM login URL, e.g. https://master.mesos/acs/api/v1/auth/login",
    )
    parser.add_argument(
        "--out", metavar="FILE", help="where to write the secret (default: UID-secret.json; '-' for stdout)"
    )
    parser.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the private key's passphrase from this environment variable (the secret holds it decrypted)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(run=run)


def default_out(uid: str) -> str:
    """``UID-secret.json``, with anything that is not safe in a file name replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._@-]", "_", uid) + "-secret.json"


def read_passphrase(variable: Optional[str]) -> Optional[str]:
    if not variable:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise ConfigurationError(f"--passphrase-env names ${variable}, which is not set")
    return value


def run(args: argparse.Namespace) -> int:
    account = ServiceAccount.from_key_file(
        args.uid, args.private_key, args.login_endpoint, passphrase=read_passphrase(args.passphrase_env)
    )
    text = json.dumps(account.to_info(), indent=2) + "\n"
    out = args.out or default_out(account.uid)
    if out == STDOUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        _explain(account, None, sys.stderr)
        return 0
    path = Path(out)
    write_file(path, text.encode("utf-8"), mode=PRIVATE_FILE_MODE, force=args.force)
    _explain(account, path, sys.stdout)
    return 0


def _explain(account: ServiceAccount, path: Optional[Path], stream: TextIO) -> None:
    """What was made and how to use it; never the key."""

    def say(line: str = "") -> None:
        print(line, file=stream)

    where = f"{path} (mode 0600, keep it secret)" if path else "stdout"
    say(f"secret of service account {account.uid!r} (login at {account.login_endpoint}) written to {where}")
    if urlsplit(account.login_endpoint).scheme == "http":
        say("note: an http:// login endpoint is for permissive clusters; strict mode refuses it (use https://)")
    say("use it:")
    if path is not None:
        absolute = path.resolve()
        say(f"  export {CREDENTIAL_ENV}={absolute.as_uri()}")
        say(f"  mesos-auth doctor --secret {absolute}")
        say(f"  or store it in DC/OS: dcos security secrets create -f {absolute} <secret-path>")
    else:
        say(f"  store it in DC/OS (dcos security secrets create -f <file> <secret-path>), or set {CREDENTIAL_ENV}")
        say("  to the JSON itself or to file:///path/of/a/file/holding/it (mode 0600)")
