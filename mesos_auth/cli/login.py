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
import socket
import sys
import time
from typing import Any, Tuple
from urllib.parse import urlsplit

from mesos_auth.ca import CA_BUNDLE_ENV, NODE_CA_BUNDLE, CABundle
from mesos_auth.cli._common import (
    add_account_options,
    duration,
    iso_utc,
    plain_reason,
    relative,
    resolve_account,
    resolve_bundle,
    resolve_mode,
    two_sentences,
)
from mesos_auth.errors import IAMUnavailableError, MesosAuthError, TLSVerificationError
from mesos_auth.iam import DEFAULT_LOGIN_RETRY
from mesos_auth.tokens import TokenProvider
from mesos_auth.transport import speaks_tls

#: Seconds the diagnosis of a failed login may spend on each probe of the IAM's port.
PROBE_TIMEOUT = 5.0


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
    try:
        token = provider.token()
    except (TLSVerificationError, IAMUnavailableError) as error:
        if getattr(args, "debug", False):
            raise
        from mesos_auth.cli import exit_code_for

        print(f"mesos-auth login: {explain_failure(error, bundle)}", file=sys.stderr)
        return exit_code_for(error)
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


def explain_failure(error: MesosAuthError, bundle: CABundle) -> str:
    """A failed login in two sentences: what went wrong, then what to do.

    The library's errors are built for a program's log; here the reader is at a
    terminal with the command's options at hand, so the fix names ``--ca-bundle``,
    and a connection that failed is looked at once more to say why: nothing
    listening, plain http sent to a port that speaks TLS, or https to one that does
    not. OpenSSL's text is shown without CPython's file names (``_ssl.c:1006``).
    """
    if isinstance(error, TLSVerificationError):
        source = "--ca-bundle" if bundle.source == "arguments" else bundle.source
        trusted_by = f"the CA bundle {bundle.path} (from {source})" if bundle.path else "the system trust store"
        return two_sentences(
            f"the IAM's certificate at {error.url} is not trusted by {trusted_by} ({plain_reason(error.problem)})",
            f"pass the cluster's CA bundle with --ca-bundle or ${CA_BUNDLE_ENV} (on DC/OS nodes {NODE_CA_BUNDLE}; "
            "it can be downloaded from https://<master>/ca/dcos-ca.crt, check its fingerprint)",
        )
    if not isinstance(error, IAMUnavailableError):  # pragma: no cover - run() passes only these two
        return str(error)
    endpoint = error.endpoint
    host, port, https = _host_port(endpoint)
    tried = f"{error.attempts} attempt(s) over {error.elapsed:.1f} s"
    try:
        socket.create_connection((host, port), timeout=PROBE_TIMEOUT).close()
    except OSError as exc:
        reason = plain_reason(exc.strerror or str(exc) or exc.__class__.__name__)
        return two_sentences(
            f"the IAM at {host}:{port} cannot be reached ({reason}; {tried})",
            "check that the IAM is up and that this machine can reach the host and port of the login_endpoint in "
            "the secret (DNS, firewall, proxy), then run mesos-auth login again",
        )
    from mesos_auth.cli._checks import FIX_IAM_NOT_TLS, answers_plain_http, fix_login_http_to_tls

    tls_port = speaks_tls(host, port, PROBE_TIMEOUT)
    if not https and tls_port:
        return two_sentences(
            f"the IAM at {host}:{port} speaks TLS, but the login endpoint {endpoint} is plain http",
            fix_login_http_to_tls(endpoint),
        )
    if https and not tls_port and answers_plain_http(host, port, PROBE_TIMEOUT):
        return two_sentences(
            f"the IAM at {host}:{port} does not speak TLS, but the login endpoint {endpoint} is https",
            FIX_IAM_NOT_TLS,
        )
    return two_sentences(
        f"the login at {endpoint} failed ({tried}), the last attempt with {plain_reason(error.last_problem)}",
        "check that the IAM is up and healthy (the dcos-iam service on the masters), then run mesos-auth login again",
    )


def _host_port(url: str) -> Tuple[str, int, bool]:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    return parts.hostname or "", parts.port or (443 if https else 80), https
