"""The checks of ``mesos-auth doctor``: small functions over one shared context.

Each check is a function ``check(ctx) -> Result`` that looks at one thing, says
what it found in one line and, when something is wrong, how to fix it. Checks
run in order (google-auth's ``default()`` style): what one learns (the account,
the CA bundle, a token, the IAM's clock) goes into the :class:`DoctorContext`
for the next, and a check whose input is missing because an earlier one failed
is skipped and says which. Every check can be run and tested on its own.

Nothing here prints, logs or returns a private key or a token: summaries are
built from the library's errors (which never quote one) and from public facts.
"""

from __future__ import annotations

import enum
import http.client
import json
import os
import socket
import ssl
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from mesos_auth import _http
from mesos_auth._deadline import Deadline
from mesos_auth._redact import server_text
from mesos_auth.account import CREDENTIAL_ENV, ServiceAccount
from mesos_auth.ca import CA_BUNDLE_ENV, NODE_CA_BUNDLE, SYSTEM_TRUST_STORE, CABundle, resolve_ca_bundle
from mesos_auth.cli._common import CommandError, find_account, iso_utc, plain_reason, relative
from mesos_auth.discovery import ARGUMENT_SOURCE
from mesos_auth.errors import (
    CABundleError,
    ConfigurationError,
    CredentialError,
    IAMUnavailableError,
    InvalidTokenError,
    LoginRejectedError,
    MesosAuthError,
    TLSVerificationError,
    WeakKeyError,
)
from mesos_auth.iam import IAMClient
from mesos_auth.login_diagnosis import clock_skew, describe_skew, expired_by_clock, key_fingerprint
from mesos_auth.master_uri import MasterAddress, follow_redirect, is_zookeeper, parse_master
from mesos_auth.retry import RetryPolicy
from mesos_auth.security_mode import (
    BOOTSTRAP_CONFIG_PATH,
    SECURITY_MODE_ENV,
    SecurityMode,
    detect_security_mode,
)
from mesos_auth.tokens import read_expiry
from mesos_auth.transport import certificate_problem, make_ssl_context, open_connection, speaks_tls

if TYPE_CHECKING:
    from mesos_auth.cli._permission_checks import PermissionInputs

# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------


class Status(str, enum.Enum):
    """How a check came out; the value is the label printed in brackets."""

    OK = "ok"
    FAIL = "FAIL"
    WARN = "warn"
    SKIP = "skip"


@dataclass(frozen=True)
class Result:
    """What a check found: a status, one line saying what, and the fix when there is one."""

    status: Status
    summary: str
    fix: str = ""


def ok(summary: str) -> Result:
    return Result(Status.OK, summary)


def fail(summary: str, fix: str) -> Result:
    return Result(Status.FAIL, summary, fix)


def warn(summary: str, fix: str = "") -> Result:
    return Result(Status.WARN, summary, fix)


def skip(summary: str) -> Result:
    return Result(Status.SKIP, summary)


# --------------------------------------------------------------------------
# The fixes, one place for each piece of advice
# --------------------------------------------------------------------------

CA_PLACES = (
    f"--ca-bundle or ${CA_BUNDLE_ENV} (on DC/OS nodes {NODE_CA_BUNDLE}; in a task $MESOS_SANDBOX/.ssl/ca-bundle.crt)"
)
FIX_SECRET = (
    'recreate the secret: it is a JSON object {"scheme": "RS256", "uid": ..., "private_key": <PEM>, '
    '"login_endpoint": "https://<master>/acs/api/v1/auth/login"} (mesos-auth secret makes one)'
)
FIX_NO_SECRET = (
    f"set {CREDENTIAL_ENV} to the secret's JSON, a file:// URL or its path, or pass --secret PATH "
    "(mesos-auth secret makes a secret)"
)
FIX_NOT_RSA = (
    "DC/OS service accounts sign with RS256: make an RSA key pair (mesos-auth keypair), register its public key "
    "for the account and recreate the secret (mesos-auth secret)"
)
FIX_WEAK_KEY = (
    "make a new key pair of 2048 bits or more (mesos-auth keypair), register its public key for the "
    "account and recreate the secret (mesos-auth secret)"
)
FIX_MODE = f"set --security-mode or ${SECURITY_MODE_ENV} to disabled, permissive or strict"
FIX_STRICT_HTTP = (
    "use the cluster's https login endpoint (https://<master>/acs/api/v1/auth/login): "
    "recreate the secret with mesos-auth secret --login-endpoint https://..."
)
FIX_CA_MISSING = f"point {CA_PLACES} at the cluster's CA certificate file"
FIX_CA_UNTRUSTED = (
    f"use the CA bundle of this cluster: {CA_PLACES}; "
    "it can be downloaded from https://<master>/ca/dcos-ca.crt (check its fingerprint)"
)
FIX_IAM_DOWN = (
    "check that the IAM is up and that this machine can reach it (the host and port of the login_endpoint "
    "in the secret: DNS, firewall, proxy)"
)
FIX_IAM_UNHEALTHY = "the IAM (or Admin Router in front of it) is unhealthy: check the dcos-iam service on the masters"
FIX_IAM_PATH = "check the login_endpoint in the secret: it ends with /acs/api/v1/auth/login"
FIX_LOGIN = (
    "check that the account exists on this cluster (dcos security org service-accounts show <uid>) and that "
    "its registered public key belongs to this private key"
)
FIX_CLOCK = "synchronise the clock (NTP) on this machine and on the cluster's masters"
FIX_FRAMEWORK_CONFIG = 'give a JSON file holding the FrameworkInfo, e.g. {"name": "my-framework", "principal": "<uid>"}'
FIX_MASTER_ADDRESS = "give the master as https://host:5050 (in DC/OS: https://leader.mesos:5050)"
FIX_MASTER_STRICT_HTTP = (
    "use https:// for the master in strict mode (in DC/OS: https://leader.mesos:5050): the token would travel "
    "in clear, and the driver refuses it"
)
FIX_MASTER_DOWN = (
    "check the address and that the master is up and reachable from here (in DC/OS: https://leader.mesos:5050)"
)
FIX_MASTER_401 = (
    "the master does not accept this IAM's tokens: check that the login endpoint and --master belong to the same "
    "cluster, and that the account was not removed or its tokens revoked"
)
FIX_NOT_LEADER = (
    "point the framework at the leading master (in DC/OS: https://leader.mesos:5050, or a zk:// URI) "
    "so that it follows leader changes"
)
FIX_MASTER_BUSY = "wait until a leader is elected and has recovered, then run mesos-auth doctor again"
FIX_MASTER_NOT_TLS = (
    "give the master's TLS address (in DC/OS: https://leader.mesos:5050), or http://host:port outside strict mode"
)
FIX_MASTER_REFUSING = (
    "give the Mesos master's own address, not a proxy's (in DC/OS: https://leader.mesos:5050, or a zk:// URI)"
)
FIX_ZOOKEEPER_DOWN = (
    "check the ZooKeeper hosts in the zk:// URI and that ZooKeeper is reachable from here "
    "(in DC/OS: zk://zk-1.zk:2181,zk-2.zk:2181,zk-3.zk:2181,zk-4.zk:2181,zk-5.zk:2181/mesos)"
)
FIX_ZOOKEEPER_EMPTY = (
    "check the path of the zk:// URI (in DC/OS: /mesos) and that the masters are up: none has joined this group"
)
FIX_IAM_NOT_TLS = (
    "check the port of the login_endpoint in the secret: on DC/OS the IAM is at "
    "https://<master>/acs/api/v1/auth/login (port 443)"
)


def fix_http_to_tls(address: str, bare: bool) -> str:
    """The fix when plain http went to a port that speaks TLS."""
    https = f"https://{address}"
    if bare:
        return f"give the master as {https}, or set ${SECURITY_MODE_ENV}=strict (a bare host:port then means https)"
    return f"give the master as {https}, or set ${SECURITY_MODE_ENV}=strict"


def fix_login_http_to_tls(endpoint: str) -> str:
    https = "https://" + endpoint.split("://", 1)[-1]
    return f"use {https} as the login endpoint: recreate the secret with mesos-auth secret --login-endpoint {https}"


#: Where the doctor finds the master when ``--master`` is not given: what ``mesos-auth fake-cluster``
#: exports and :class:`~mesos_auth.AuthenticatedOperatorMasterDriver` reads.
MASTER_URL_ENV = "MESOS_MASTER_URL"

#: Clock skew against the IAM: a warning above this many seconds ...
SKEW_WARN = 5.0
#: ... a failure above this (our choice). The IAM refuses a login token only once its
#: clock is ahead by the token's whole lifetime (3 minutes by default), but every
#: token's expiry, the auth token's included, is then off by as much on this machine.
SKEW_FAIL = 30.0

#: Two login attempts at most: the doctor reports, it does not wait out an outage.
DOCTOR_LOGIN_RETRY = RetryPolicy(
    initial_delay=0.2, backoff=2.0, max_delay=1.0, jitter=0.2, deadline=5.0, max_attempts=2
)

#: The harmless call that shows whether the master takes the token: it needs no
#: subscription, and a framework that does not exist gets 400 after authentication.
RECONCILE_PROBE = {
    "type": "RECONCILE",
    "framework_id": {"value": "mesos-auth-doctor"},
    "reconcile": {"tasks": []},
}


# --------------------------------------------------------------------------
# The context
# --------------------------------------------------------------------------


@dataclass
class DoctorContext:
    """What the doctor was told, and what its checks have learned so far.

    The first group of fields are the inputs (the command's options and the
    environment, injectable for tests); the second is filled in by the checks.
    The token is kept for the master check only; it is left out of ``repr``.
    """

    secret: Optional[str] = None
    security_mode: Optional[str] = None
    ca_bundle: Optional[str] = None
    master: Optional[str] = None
    framework_config: Optional[str] = None
    principal: Optional[str] = None
    permissions: Optional[PermissionInputs] = None
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)
    bootstrap_config: str = BOOTSTRAP_CONFIG_PATH
    node_ca_bundle: str = NODE_CA_BUNDLE
    timeout: float = 5.0
    clock: Callable[[], float] = time.time
    login_retry: RetryPolicy = DOCTOR_LOGIN_RETRY
    debug: bool = False

    # -- learned by the checks --
    account: Optional[ServiceAccount] = None
    key_problem: Optional[CredentialError] = None
    endpoint_refused: bool = False
    bundle: Optional[CABundle] = None
    iam_tls_trusted: Optional[bool] = None
    iam_reachable: Optional[bool] = None
    iam_answered: bool = False
    skew: Optional[float] = None
    login_time_problem: Optional[str] = None
    token: Optional[str] = field(default=None, repr=False)
    master_address: Optional[MasterAddress] = None
    master_reachable: bool = False
    _mode: Optional[Tuple[Optional[SecurityMode], str, Optional[MesosAuthError]]] = field(
        default=None, init=False, repr=False
    )

    def mode(self) -> Optional[SecurityMode]:
        """The security mode as the driver would detect it (None when it cannot be read)."""
        return self._detect_mode()[0]

    def mode_source(self) -> str:
        return self._detect_mode()[1]

    def mode_error(self) -> Optional[MesosAuthError]:
        return self._detect_mode()[2]

    def _detect_mode(self) -> Tuple[Optional[SecurityMode], str, Optional[MesosAuthError]]:
        if self._mode is None:
            source = _mode_source(self)
            try:
                mode = detect_security_mode(
                    self.security_mode, environ=self.environ, bootstrap_config=self.bootstrap_config
                )
            except ConfigurationError as error:
                self._mode = (None, source, error)
            else:
                self._mode = (mode, source, None)
        return self._mode

    def master_given(self) -> Tuple[Optional[str], str]:
        """The master to check and where it was named: ``--master``, else ``$MESOS_MASTER_URL``."""
        if self.master:
            return self.master, "--master"
        from_environment = self.environ.get(MASTER_URL_ENV, "").strip()
        if from_environment:
            return from_environment, f"${MASTER_URL_ENV}"
        return None, ""

    @property
    def endpoint(self) -> Optional[str]:
        return self.account.login_endpoint if self.account is not None else None

    @property
    def endpoint_is_https(self) -> bool:
        return self.endpoint is not None and urlsplit(self.endpoint).scheme == "https"


DEFAULT_MODE_SOURCE = "the default"


def _mode_source(ctx: DoctorContext) -> str:
    if ctx.security_mode:
        return "--security-mode"
    if ctx.environ.get(SECURITY_MODE_ENV, "").strip():
        return f"${SECURITY_MODE_ENV}"
    if Path(ctx.bootstrap_config).is_file():
        return ctx.bootstrap_config
    return DEFAULT_MODE_SOURCE


# --------------------------------------------------------------------------
# The checks
# --------------------------------------------------------------------------


def check_secret(ctx: DoctorContext) -> Result:
    """1. The secret is found, as the driver finds it, and is well-formed."""
    try:
        resolution = find_account(ctx.secret or None, ctx.environ)
    except CommandError as error:
        return fail(error.cause, error.fix)
    except CredentialError as error:
        if _is_key_problem(error):
            ctx.key_problem = error  # well-formed but for its key: the next check says why
            return ok(f"found in {_where(error.source)}; its private key is looked at next")
        return fail(_credential_summary(error), error.fix or FIX_SECRET)
    except ConfigurationError as error:
        return fail(str(error), FIX_SECRET)
    account = resolution.account
    if account is None:
        summary = f"no service account secret found (looked at: {'; '.join(resolution.tried)})"
        mode = ctx.mode()
        if mode is None or mode is SecurityMode.STRICT:
            return fail(summary, FIX_NO_SECRET)
        return warn(f"{summary}; in {mode} mode the framework would run unauthenticated", FIX_NO_SECRET)
    ctx.account = account
    return ok(f"found in {_where(account.source)}: uid {account.uid!r}, login at {account.login_endpoint}")


def check_key(ctx: DoctorContext) -> Result:
    """2. The key is RSA (RS256), and not too small (the library refuses keys under 2048 bits)."""
    problem = ctx.key_problem
    if problem is not None:
        return fail(_credential_summary(problem), FIX_WEAK_KEY if isinstance(problem, WeakKeyError) else FIX_NOT_RSA)
    if ctx.account is None:
        return skip("no service account to look at (see 'secret')")
    fingerprint = key_fingerprint(ctx.account.private_key)
    return ok(f"RSA key of {ctx.account.key_size} bits; its public key's SHA-256 (DER) is {fingerprint}")


def check_transport(ctx: DoctorContext) -> Result:
    """3. The login endpoint's scheme suits the security mode."""
    error = ctx.mode_error()
    if error is not None:
        return fail(str(error), FIX_MODE)
    mode, source = ctx.mode(), ctx.mode_source()
    said = (
        f"{mode} mode ("
        + ("the default: nothing sets the mode" if source == DEFAULT_MODE_SOURCE else f"from {source}")
        + ")"
    )
    endpoint = ctx.endpoint
    if endpoint is None:
        return skip(f"{said}; no login endpoint to compare it with (see 'secret')")
    https = ctx.endpoint_is_https
    if mode is SecurityMode.DISABLED:
        scheme = "https" if https else "plain-http"
        return ok(f"{said}, {scheme} login endpoint: the framework does not authenticate, the account is unused")
    if https:
        return ok(f"{said}, https login endpoint")
    if mode is SecurityMode.STRICT:
        ctx.endpoint_refused = True
        return fail(
            f"{said} and a plain-http login endpoint ({endpoint}): the login token would travel in clear, "
            "so the driver refuses to send it",
            FIX_STRICT_HTTP,
        )
    return ok(f"{said}, plain-http login endpoint: allowed, but note the login token travels in clear")


def check_ca_bundle(ctx: DoctorContext) -> Result:
    """4. A CA bundle is found, and it trusts the IAM's certificate (a real TLS handshake)."""
    try:
        bundle = resolve_ca_bundle(ctx.ca_bundle or None, environ=ctx.environ, node_bundle=ctx.node_ca_bundle)
    except CABundleError as error:
        return fail(f"CA bundle {error.path} (from {_arg(error.source)}) {error.problem}", FIX_CA_MISSING)
    ctx.bundle = bundle
    endpoint = ctx.endpoint
    if endpoint is None:
        return skip(f"{_bundle(bundle)}; not tested: no login endpoint (see 'secret')")
    if not ctx.endpoint_is_https:
        return skip(f"{_bundle(bundle)}; not needed for the plain-http login endpoint")
    host, port = _host_port(endpoint)
    try:
        _tls_handshake(host, port, bundle, ctx.timeout)
    except (OSError, ssl.SSLError) as exc:
        problem = certificate_problem(exc)
        if problem is not None:
            ctx.iam_tls_trusted = False
            return fail(
                f"the IAM's certificate at {host}:{port} is not trusted by {_bundle(bundle)} ({problem})",
                FIX_CA_UNTRUSTED,
            )
        return skip(
            f"{_bundle(bundle)}; the IAM's certificate could not be tested: no TLS handshake with {host}:{port} "
            f"({_reason(exc)}; see 'iam')"
        )
    ctx.iam_tls_trusted = True
    return ok(f"{_bundle(bundle)} trusts the IAM's certificate at {host}:{port}")


def check_iam(ctx: DoctorContext) -> Result:
    """5. The IAM is reachable: a TCP connection, then an HTTP answer (no credentials sent).

    The answer's ``Date`` header is kept for the clock check.
    """
    endpoint = ctx.endpoint
    if endpoint is None:
        return skip("no login endpoint (see 'secret')")
    host, port = _host_port(endpoint)
    try:
        socket.create_connection((host, port), timeout=ctx.timeout).close()
    except OSError as exc:
        ctx.iam_reachable = False
        return fail(f"cannot connect to the IAM at {host}:{port} ({_reason(exc)})", FIX_IAM_DOWN)
    https = ctx.endpoint_is_https
    if https and (ctx.bundle is None or ctx.iam_tls_trusted is False):
        ctx.iam_reachable = True
        return ok(f"{host}:{port} accepts connections (no HTTP request sent: TLS cannot be verified, see 'ca-bundle')")
    bundle = ctx.bundle if (https and ctx.bundle is not None) else CABundle(None, SYSTEM_TRUST_STORE)
    before = ctx.clock()
    try:
        status, date = _iam_probe(endpoint, bundle, ctx.timeout)
    except TLSVerificationError as exc:
        ctx.iam_tls_trusted = False
        return fail(f"TLS with the IAM at {host}:{port} failed ({exc.problem})", FIX_CA_UNTRUSTED)
    except (OSError, http.client.HTTPException) as exc:
        ctx.iam_reachable = False
        tls_port = speaks_tls(host, port, ctx.timeout)
        if not https and tls_port:
            return fail(
                f"the IAM at {host}:{port} speaks TLS, but the login endpoint {endpoint} is plain http",
                fix_login_http_to_tls(endpoint),
            )
        if https and not tls_port and answers_plain_http(host, port, ctx.timeout):
            return fail(f"the IAM at {host}:{port} accepts connections but does not speak TLS", FIX_IAM_NOT_TLS)
        return fail(f"{host}:{port} accepts connections but gave no HTTP answer ({_reason(exc)})", FIX_IAM_DOWN)
    after = ctx.clock()
    ctx.iam_reachable = ctx.iam_answered = True
    ctx.skew = clock_skew(date, before, after)
    if status >= 500:
        return warn(f"the IAM at {host}:{port} answered HTTP {status}", FIX_IAM_UNHEALTHY)
    if status == 404:
        return warn(f"{endpoint} answered HTTP 404: no IAM login there", FIX_IAM_PATH)
    return ok(f"the IAM at {host}:{port} answers (HTTP {status} to a GET without credentials)")


def check_login(ctx: DoctorContext) -> Result:
    """6. The IAM accepts the login (two attempts at most).

    A refusal's fix is the library's hint: the IAM never says which check failed, so
    it names the clock skew by the answer's ``Date`` header (the likely cause when the
    IAM is ahead by a login token's lifetime) and the public key's fingerprint to
    compare with the key registered for the account.
    """
    account = ctx.account
    if account is None:
        return skip("no usable service account (see 'secret' and 'key')")
    if ctx.endpoint_refused:
        return skip("strict mode refuses the plain-http login endpoint (see 'transport')")
    https = ctx.endpoint_is_https
    if https and ctx.bundle is None:
        return skip("no usable CA bundle (see 'ca-bundle')")
    if https and ctx.iam_tls_trusted is False:
        return skip("the IAM's certificate is not trusted (see 'ca-bundle')")
    if ctx.iam_reachable is False:
        return skip("the IAM is not reachable (see 'iam')")
    client = IAMClient(
        ca_bundle=ctx.bundle or CABundle(None, SYSTEM_TRUST_STORE),
        security_mode=ctx.mode(),
        timeout=ctx.timeout,
        retry=ctx.login_retry,
    )
    who = f"{account.uid!r}"
    try:
        with warnings.catch_warnings():
            # A small key is the 'key' check's finding; PyJWT's own warning would repeat it.
            warnings.filterwarnings("ignore", message=r"The RSA key is \d+ bits long")
            token = client.login(account)
    except LoginRejectedError as error:
        # The IAM never says why (always "Invalid credentials."): the hint is built from the
        # clock skew by its answer's Date header and the key's fingerprint, not from its words.
        said = " - ".join(part for part in (error.code, error.description) if part) or "no details"
        if error.clock_skew is not None:
            ctx.skew = error.clock_skew  # the login's own answer: the freshest measure
        if expired_by_clock(ctx.skew, client.login_token_lifetime):
            ctx.login_time_problem = (
                f"more than the {client.login_token_lifetime:.0f} s a login token lives, so the IAM took the "
                "login token for expired and refused the login"
            )
        return fail(f"the IAM refused the login of {who} (HTTP {error.status}: {said})", error.hint or FIX_LOGIN)
    except TLSVerificationError as error:
        return fail(_untrusted(error, ctx.bundle), FIX_CA_UNTRUSTED)
    except IAMUnavailableError as error:
        return fail(
            f"the login of {who} failed {error.attempts} time(s), the last with {error.last_problem}",
            FIX_IAM_DOWN,
        )
    except MesosAuthError as error:
        return fail(f"the login of {who} failed: {error}", FIX_IAM_PATH)
    now = ctx.clock()
    try:
        expires_at = read_expiry(token)
    except InvalidTokenError as error:
        return fail(f"the login of {who} returned no usable token: {error}", FIX_IAM_PATH)
    if expires_at <= now:
        ctx.login_time_problem = f"the token arrived already expired ({now - expires_at:.0f} s ago by this clock)"
        return fail(f"logged in as {who}, but {ctx.login_time_problem}", FIX_CLOCK)
    ctx.token = token
    return ok(f"logged in as {who}; the token expires {iso_utc(expires_at)} ({relative(expires_at - now)})")


def check_clock(ctx: DoctorContext) -> Result:
    """7. This machine's clock agrees with the IAM's (its ``Date`` header)."""
    time_problem = ctx.login_time_problem
    if ctx.skew is None:
        if time_problem:
            return fail(f"{time_problem}, a sign of clock skew (the IAM sent no Date to measure it)", FIX_CLOCK)
        if ctx.iam_answered:
            return skip("the IAM's answer had no Date header to compare clocks with")
        return skip("no HTTP answer from the IAM to compare clocks with (see 'iam')")
    size = abs(ctx.skew)
    said = describe_skew(ctx.skew)
    if time_problem:
        return fail(f"{said}: {time_problem}", FIX_CLOCK)
    if size > SKEW_FAIL:
        return fail(said, FIX_CLOCK)
    if size > SKEW_WARN:
        return warn(f"{said}: tokens will seem to expire early or late by as much", FIX_CLOCK)
    if size < 1.5:  # the Date header counts whole seconds
        return ok("this machine's clock agrees with the IAM's (to the second, by the Date header of its answer)")
    return ok(f"this machine's clock agrees with the IAM's ({size:.0f} s apart, by the Date header of its answer)")


def check_principal(ctx: DoctorContext) -> Result:
    """8. The framework's principal is the account's uid (or unset: then it is filled in)."""
    if ctx.framework_config:
        try:
            principal, where = _principal_from_config(Path(ctx.framework_config))
        except ConfigurationError as error:
            return fail(str(error), FIX_FRAMEWORK_CONFIG)
    elif ctx.principal is not None:
        principal, where = ctx.principal, "--principal"
    else:
        return skip("no --framework-config or --principal given")
    if ctx.account is None:
        return skip(f"no service account to compare the principal from {where} with (see 'secret')")
    uid = ctx.account.uid
    if not principal:
        return ok(f"principal unset in {where}: the driver fills in {uid!r}")
    if principal == uid:
        return ok(f"principal {principal!r} from {where} is the service account's uid")
    return fail(
        f"principal {principal!r} from {where} is not the service account {uid!r}: the driver refuses to start "
        "and the master would refuse the framework",
        f"set the principal to {uid!r} in {where} (or leave it unset: the driver fills it in), "
        f"or use the secret of the account {principal!r}",
    )


def check_master(ctx: DoctorContext) -> Result:
    """9. The master answers: ``GET /version``, over TLS verified with the CA bundle when https.

    The master is ``--master``, else ``$MESOS_MASTER_URL`` (which ``mesos-auth fake-cluster``
    exports). A ``zk://`` URI is resolved as the driver resolves it: the leading master
    named in ZooKeeper (:func:`leader_from_zookeeper`) is the one checked. Three ways
    to fail are told apart, each with its own fix: nothing accepts a connection (down,
    wrong address, firewall); the port speaks another protocol than the address says
    (plain http to a TLS port, or https to a plain one); the master answers but its
    certificate is not trusted, or it refuses (its HTTP status and the first line it said).
    """
    given, source = ctx.master_given()
    if not given:
        return skip(f"no --master given and ${MASTER_URL_ENV} is not set")
    named = "" if source == "--master" else f" (from {source})"
    mode = ctx.mode()
    scheme = "https" if mode is SecurityMode.STRICT else "http"
    bare = "://" not in given
    if is_zookeeper(given):
        try:
            leader = leader_from_zookeeper(given, ctx.timeout)
        except CommandError as error:
            return fail(error.cause + named, error.fix)
        origin = "" if source == "--master" else f", from {source}"
        named = f" (the leader in ZooKeeper {_zookeeper_shown(given)}{origin})"
        given, bare = leader, True
    try:
        address = parse_master(given, default_scheme=scheme)
    except ConfigurationError as error:
        return fail(str(error), FIX_MASTER_ADDRESS)
    if mode is SecurityMode.STRICT and not address.tls:
        return fail(f"strict mode and a plain-http master ({address}){named}", FIX_MASTER_STRICT_HTTP)
    if address.tls and ctx.bundle is None:
        return skip(f"no usable CA bundle to verify the master at {address} with (see 'ca-bundle')")
    ctx.master_address = address
    try:
        socket.create_connection((address.host, address.port), timeout=ctx.timeout).close()
    except OSError as exc:
        return fail(f"cannot reach the master at {address}{named} ({_reason(exc)})", FIX_MASTER_DOWN)
    tls_port = speaks_tls(address.host, address.port, ctx.timeout)
    if not address.tls and tls_port:
        return fail(
            f"the master at {address}{named} speaks TLS, but plain http was sent to it",
            fix_http_to_tls(address.netloc, bare),
        )
    if address.tls and not tls_port and answers_plain_http(address.host, address.port, ctx.timeout):
        return fail(f"the master at {address}{named} accepts connections but does not speak TLS", FIX_MASTER_NOT_TLS)
    try:
        status, body, _ = _master_request(ctx, address, "GET", "/version")
    except TLSVerificationError as error:
        return fail(f"the master is reachable, but {_untrusted(error, ctx.bundle)}", FIX_CA_UNTRUSTED)
    except OSError as exc:
        return fail(
            f"the master at {address}{named} accepts connections but gave no HTTP answer ({_reason(exc)})",
            FIX_MASTER_DOWN,
        )
    ctx.master_reachable = True
    if status == 503:
        return warn(f"the master at {address}{named} answered HTTP 503 ({_first_line(body)})", FIX_MASTER_BUSY)
    if status != 200:
        return fail(
            f"the master at {address}{named} is reachable but refused GET /version: HTTP {status} "
            f"({_first_line(body)})",
            FIX_MASTER_REFUSING,
        )
    try:
        version = json.loads(body).get("version", "?")
    except (ValueError, AttributeError):
        version = "?"
    return ok(f"Mesos {version} at {address}{named}")


def check_master_token(ctx: DoctorContext) -> Result:
    """10. The master takes the token: a harmless RECONCILE, whose refusal after authentication is fine."""
    if not ctx.master_given()[0]:
        return skip(f"no --master given and ${MASTER_URL_ENV} is not set")
    address = ctx.master_address
    if address is None or not ctx.master_reachable:
        return skip("the master is not reachable (see 'master')")
    if ctx.token is None:
        return skip("no token to present (see 'login')")
    headers = {
        "Authorization": f"token={ctx.token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    try:
        status, body, answer_headers = _master_request(
            ctx, address, "POST", "/api/v1/scheduler", json.dumps(RECONCILE_PROBE), headers
        )
    except TLSVerificationError as error:
        return fail(_untrusted(error, ctx.bundle), FIX_CA_UNTRUSTED)
    except OSError as exc:
        return fail(f"the master at {address} did not answer ({_reason(exc)})", FIX_MASTER_DOWN)
    note = " (disabled mode: the master checks no token)" if ctx.mode() is SecurityMode.DISABLED else ""
    if status == 401:
        return fail(f"the master at {address} refused the token (HTTP 401)", FIX_MASTER_401)
    if status == 307:
        location = answer_headers.get("location", "")
        try:
            leader = f"the leader is {follow_redirect(address, location)}"
        except ConfigurationError:
            leader = f"Location: {location or 'none given'}"
        return warn(f"{address} is not the leading master ({leader})", FIX_NOT_LEADER)
    if status in (400, 403):
        return ok(
            f"the master at {address} accepts the token{note}: authentication passed (a probe RECONCILE "
            f"answered HTTP {status}: {_first_line(body)})"
        )
    if 200 <= status < 300:
        return ok(f"the master at {address} accepts the token{note} (HTTP {status})")
    if status == 503:
        return warn(f"the master at {address} answered HTTP 503 ({_first_line(body)})", FIX_MASTER_BUSY)
    return warn(f"the master at {address} answered HTTP {status} ({_first_line(body)})", FIX_MASTER_ADDRESS)


def check_permissions(ctx: DoctorContext) -> Result:
    """8b. The account holds the DC/OS permissions the framework needs (:mod:`mesos_auth.cli._permission_checks`)."""
    from mesos_auth.cli._permission_checks import check_permissions as check  # it builds on this module

    return check(ctx)


# --------------------------------------------------------------------------
# The list, and running it
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """A named check; the name is what skips refer to ("see 'secret'")."""

    name: str
    run: Callable[[DoctorContext], Result]


CHECKS: Tuple[Check, ...] = (
    Check("secret", check_secret),
    Check("key", check_key),
    Check("transport", check_transport),
    Check("ca-bundle", check_ca_bundle),
    Check("iam", check_iam),
    Check("login", check_login),
    Check("clock", check_clock),
    Check("principal", check_principal),
    Check("permissions", check_permissions),
    Check("master", check_master),
    Check("master-auth", check_master_token),
)


def run_checks(ctx: DoctorContext, checks: Tuple[Check, ...] = CHECKS) -> List[Tuple[Check, Result]]:
    """Run every check in order. A check that crashes is a failure, unless ``ctx.debug``."""
    results: List[Tuple[Check, Result]] = []
    for check in checks:
        try:
            result = check.run(ctx)
        except Exception as exc:
            if ctx.debug:
                raise
            result = fail(
                f"the check itself failed ({exc.__class__.__name__}: {exc})",
                "run mesos-auth --debug doctor ... and report the traceback",
            )
        results.append((check, result))
    return results


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _is_key_problem(error: CredentialError) -> bool:
    """The key parsed but is not RSA (EC, Ed25519, DSA) or is too short: the secret is otherwise fine."""
    if isinstance(error, WeakKeyError):
        return True
    return error.field == "private_key" and ("not RSA" in error.problem or "not an RSA key" in error.problem)


def _where(source: str) -> str:
    return "--secret (inline JSON)" if source == ARGUMENT_SOURCE else source


def _arg(source: str) -> str:
    return "--ca-bundle" if source == "arguments" else source


def _credential_summary(error: CredentialError) -> str:
    where = _where(error.source)
    if error.field:
        where += f", field {error.field!r}"
    return f"the secret from {where}: {error.problem}"


def _bundle(bundle: CABundle) -> str:
    return f"CA bundle {bundle.path} (from {_arg(bundle.source)})" if bundle.path else SYSTEM_TRUST_STORE


def _untrusted(error: TLSVerificationError, bundle: Optional[CABundle]) -> str:
    trusted_by = _bundle(bundle) if bundle is not None else SYSTEM_TRUST_STORE
    return f"the certificate of {error.url} is not trusted by {trusted_by} ({error.problem})"


def _iam_probe(endpoint: str, bundle: CABundle, timeout: float) -> Tuple[int, Optional[str]]:
    """``GET`` the login endpoint without credentials: its status and ``Date`` header.

    The answer's body is never read, and the whole exchange is bounded by twice
    ``timeout``, so neither a huge nor a trickling answer can hold the doctor.
    """
    origin = _http.Origin.of(endpoint)
    connection = _http.open_connection(
        origin, connect_timeout=timeout, context=make_ssl_context(bundle) if origin.tls else None
    )
    with Deadline(2 * timeout, what="the IAM probe") as deadline:
        try:
            connection.request("GET", _http.request_target(endpoint), headers={"Accept": "application/json"})
            response = connection.getresponse()
            return response.status, response.getheader("Date")
        except (OSError, http.client.HTTPException) as exc:
            problem = certificate_problem(exc)
            if problem is not None:
                raise TLSVerificationError(endpoint, problem, bundle.path) from None
            if deadline.passed:
                raise OSError(f"no answer within {2 * timeout:g} s") from None
            raise
        finally:
            connection.close()


def _host_port(url: str) -> Tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _tls_handshake(host: str, port: int, bundle: CABundle, timeout: float) -> None:
    """Connect and complete a TLS handshake verified with ``bundle``; nothing is sent.

    The handshake is asked for explicitly: ``wrap_socket()`` skips it, silently, on
    a socket the peer has already reset (its ``getpeername()`` then fails).
    """
    context = make_ssl_context(bundle)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        finally:
            tls.close()


def answers_plain_http(host: str, port: int, timeout: float) -> bool:
    """Whether ``host:port`` answers a plain ``HEAD /`` (no credentials) with an HTTP status line.

    The proof that an https address names a plain-http port: a port that resets
    every connection or stays silent does not speak TLS either, but is not that.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("ascii", "replace"))
            return sock.recv(5) == b"HTTP/"
    except OSError:
        return False


def leader_from_zookeeper(url: str, timeout: float) -> str:
    """``host:port`` of the leading master in the ZooKeeper group ``url``, read once.

    The leader rule and the node's format are the driver's own
    (:mod:`mesos_auth.zookeeper_detector`: ``leader_of``, ``master_address``): the
    member with the lowest sequence, its ``json.info`` MasterInfo. Raises
    :class:`CommandError` (cause and fix) when ZooKeeper cannot be reached within
    ``timeout`` or names no usable leader. kazoo's own logging is kept quiet: what
    went wrong is the error's cause.
    """
    import logging

    from kazoo.client import KazooClient  # type: ignore[import-untyped]
    from kazoo.exceptions import KazooException, NoNodeError  # type: ignore[import-untyped]
    from kazoo.handlers.threading import KazooTimeoutError  # type: ignore[import-untyped]

    from mesos_auth.zookeeper_detector import leader_of, master_address, parse_zookeeper_url

    try:
        zk = parse_zookeeper_url(url)
    except ConfigurationError as error:
        raise CommandError(str(error), FIX_ZOOKEEPER_DOWN) from None
    quiet = logging.getLogger("mesos_auth.cli.doctor.kazoo")
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    auth = [("digest", zk.credentials)] if zk.credentials else None
    client = KazooClient(hosts=zk.servers, timeout=max(timeout, 1.0), auth_data=auth, logger=quiet)
    try:
        try:
            client.start(timeout=timeout)
        except KazooTimeoutError:
            raise CommandError(
                f"ZooKeeper {zk} could not be reached within {timeout:g} s to find the leading master",
                FIX_ZOOKEEPER_DOWN,
            ) from None
        try:
            children = client.get_children(zk.path)
            node = leader_of(children)
            if node is None:
                raise CommandError(f"no master has joined the ZooKeeper group {zk}", FIX_ZOOKEEPER_EMPTY)
            data, _ = client.get(f"{zk.path.rstrip('/')}/{node}")
        except NoNodeError:
            raise CommandError(f"no master has joined the ZooKeeper group {zk}", FIX_ZOOKEEPER_EMPTY) from None
        except (KazooException, KazooTimeoutError) as exc:
            raise CommandError(
                f"reading the masters in ZooKeeper {zk} failed ({exc.__class__.__name__})", FIX_ZOOKEEPER_DOWN
            ) from None
        try:
            return master_address(node, data)
        except ValueError as exc:
            raise CommandError(
                f"the leading master's node {node} in ZooKeeper {zk} is unusable ({plain_reason(str(exc))})",
                FIX_ZOOKEEPER_EMPTY,
            ) from None
    finally:
        client.stop()
        client.close()


def _zookeeper_shown(url: str) -> str:
    from mesos_auth.zookeeper_detector import parse_zookeeper_url

    try:
        return parse_zookeeper_url(url).shown
    except ConfigurationError:
        return "(unreadable URI)"


def _principal_from_config(path: Path) -> Tuple[Optional[str], str]:
    """The ``principal`` of a FrameworkInfo JSON file (or of its ``framework_info`` member)."""
    info, where = read_framework_info(path)
    principal = info.get("principal")
    if principal is not None and not isinstance(principal, str):
        raise ConfigurationError(f"{where}: 'principal' must be a string, not {type(principal).__name__}")
    return principal, where


def read_framework_info(path: Path) -> Tuple[Dict[str, Any], str]:
    """The FrameworkInfo of a JSON file (the object, or its ``framework_info`` member), and how to name the file."""
    where = f"framework config {path}"
    try:
        info: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{where}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{where}: cannot be read ({exc.__class__.__name__})") from None
    except ValueError as exc:
        raise ConfigurationError(f"{where}: not valid JSON ({exc})") from None
    if isinstance(info, dict) and isinstance(info.get("framework_info"), dict):
        info = info["framework_info"]
    if not isinstance(info, dict):
        raise ConfigurationError(f"{where}: expected a JSON object (the FrameworkInfo)")
    return info, where


def _master_request(
    ctx: DoctorContext,
    address: MasterAddress,
    method: str,
    path: str,
    body: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
) -> Tuple[int, str, Dict[str, str]]:
    """One request to the master; certificate failures become TLSVerificationError."""
    bundle = ctx.bundle or CABundle(None, SYSTEM_TRUST_STORE)
    context = make_ssl_context(bundle) if address.tls else None
    connection = open_connection(address, timeout=ctx.timeout, context=context)
    with Deadline(2 * ctx.timeout, what="the master probe") as deadline:
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            data = _http.read_some(response, 64 * 1024)
        except (OSError, ssl.SSLError) as exc:
            problem = certificate_problem(exc)
            if problem is not None:
                raise TLSVerificationError(address.url, problem, bundle.path) from None
            if deadline.passed:
                raise OSError(f"no answer within {2 * ctx.timeout:g} s") from None
            raise
        except http.client.HTTPException as exc:  # not HTTP at all
            raise OSError(f"not an HTTP answer ({exc.__class__.__name__})") from None
        finally:
            connection.close()
        return response.status, data.decode("utf-8", "replace"), {k.lower(): v for k, v in response.getheaders()}


def _first_line(text: str, limit: int = 120) -> str:
    """The first line of what a server said, safe to print (capped, no controls, no tokens)."""
    line = text.strip().splitlines()[0] if text.strip() else "no body"
    return server_text(line, limit)


def _reason(exc: BaseException) -> str:
    """A short reason for a network error: its innermost cause, without urllib3's wrapping."""
    inner = _innermost(exc)
    if isinstance(inner, ssl.SSLError):
        return plain_reason(str(inner.args[1]) if len(inner.args) > 1 else str(inner))
    if isinstance(inner, OSError) and inner.strerror:
        return plain_reason(inner.strerror)
    text = str(inner)
    if "] " in text:
        text = text.rsplit("] ", 1)[-1]
    return plain_reason(text.strip("()'\" ")) if text.strip("()'\" ") else inner.__class__.__name__


def _innermost(exc: BaseException) -> BaseException:
    """Follow ``reason``, exception arguments and causes down to the first error."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        reason = getattr(exc, "reason", None)
        nested = [arg for arg in getattr(exc, "args", ()) if isinstance(arg, BaseException)]
        if isinstance(reason, BaseException):
            following: Optional[BaseException] = reason
        elif nested:
            following = nested[-1]
        else:
            following = exc.__cause__ or exc.__context__
        if following is None:
            break
        exc = following
    return exc
