"""``mesos-auth login``: log in as the driver would, and say what came back.

The account, the security mode and the CA bundle are found exactly as the driver
finds them (``--secret`` then ``$DCOS_SERVICE_ACCOUNT_CREDENTIAL``; the mode from
``detect_security_mode``; the bundle from ``resolve_ca_bundle``), then a
:class:`~mesos_auth.tokens.TokenProvider` logs in. Printed: the uid, the login
endpoint, the expiry and the token's lifetime; the token itself only with
``--show-token``. A failure is the library's own error, and the exit code comes
from :func:`mesos_auth.cli.exit_code_for`.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

from mesos_auth.cli._common import (
    add_account_options,
    duration,
    iso_utc,
    relative,
    resolve_account,
    resolve_bundle,
    resolve_mode,
)
from mesos_auth.iam import DEFAULT_LOGIN_RETRY
from mesos_auth.tokens import TokenProvider


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "login",
        help="log in with the service account, as the driver would",
        description="Find the service account, security mode and CA bundle as the driver does, log in at "
        "the IAM, and show the token's expiry (the token itself only with --show-token).",
    )
    add_account_options(parser)
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEFAULT_LOGIN_RETRY.deadline,
        metavar="SECONDS",
        help="stop retrying a login that fails for network reasons after this long "
        f"(default: {DEFAULT_LOGIN_RETRY.deadline:.0f}, as the driver)",
    )
    parser.add_argument(
        "--show-token", action="store_true", help="also print the authentication token (it is a credential)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    account = resolve_account(args).require("mesos-auth login needs a service account")
    mode = resolve_mode(args)
    bundle = resolve_bundle(args)
    retry = dataclasses.replace(DEFAULT_LOGIN_RETRY, deadline=max(0.0, args.deadline))
    provider = TokenProvider(account, ca_bundle=bundle, security_mode=mode, retry=retry)
    token = provider.token()
    info = provider.info
    if info is None:  # pragma: no cover - token() sets it
        raise RuntimeError("logged in but no token information was kept")
    now = time.time()
    print(f"logged in as {account.uid!r}")
    print(f"  secret from:    {account.source}")
    print(f"  login endpoint: {account.login_endpoint}")
    print(f"  security mode:  {mode}")
    print(f"  CA bundle:      {bundle}")
    print(f"  token expires:  {iso_utc(info.expires_at)} ({relative(info.expires_at - now)})")
    print(f"  token lifetime: {duration(info.lifetime)} ({info.lifetime:.0f} s)")
    if args.show_token:
        print(token)
    return 0
