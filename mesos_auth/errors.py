"""The exceptions of mesos-auth, under one root, :class:`MesosAuthError`.

Two families, kept apart as PyJWT and botocore do:

- :class:`ConfigurationError`: *your* setup is wrong (a malformed secret, a key
  that is not RSA, a principal that differs from the account, plain http in strict
  mode, no CA bundle). Retrying will not help; the message says what to change.
  Those that are bad values are also :class:`ValueError`.
- :class:`IAMError`, :class:`TransportError`, :class:`TokenError`: what happened
  on the wire or to a token. Some heal on retry (an IAM that is down), some do not
  (credentials rejected).

Every exception keeps its facts as attributes and builds its message from them. No
message ever contains a private key, a login token or an authentication token:
values that could be secret are never passed in, URLs lose their ``user:password@``
and text that came from a server is capped, stripped of anything shaped like a
token and of control characters (:mod:`mesos_auth._redact`) before it is stored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence, Tuple

from mesos_auth._redact import safe_url, server_text

if TYPE_CHECKING:
    from mesos_auth.permissions import Permission


class MesosAuthError(Exception):
    """Root of every error raised by mesos-auth."""


# --------------------------------------------------------------------------
# Configuration: fix your setup
# --------------------------------------------------------------------------


class ConfigurationError(MesosAuthError):
    """The configuration given to mesos-auth is wrong or incomplete."""


class CredentialError(ConfigurationError, ValueError):
    """A service account secret or private key is malformed or unusable.

    ``source`` says where the credential came from (a file path, an environment
    variable, "arguments"); ``field`` names the offending field when there is one.
    """

    def __init__(self, problem: str, *, source: str, field: Optional[str] = None, fix: str = "") -> None:
        self.problem = problem
        self.source = source
        self.field = field
        self.fix = fix
        where = f"{source}, field {field!r}" if field else source
        message = f"service account secret from {where}: {problem}"
        if fix:
            message += f". {fix}"
        super().__init__(message)


class NoServiceAccountError(ConfigurationError):
    """A service account is required and none was found in any place looked at."""

    def __init__(self, tried: Sequence[str], *, reason: str = "a service account is required") -> None:
        self.tried = tuple(tried)
        places = "; ".join(self.tried) if self.tried else "nowhere"
        super().__init__(
            f"{reason}, but none was found (looked at: {places}). Pass service_account=..., "
            "or set DCOS_SERVICE_ACCOUNT_CREDENTIAL to the secret's JSON, a file:// URL or a path."
        )


class PrincipalMismatchError(ConfigurationError, ValueError):
    """The framework's Mesos principal differs from the service account's uid."""

    def __init__(self, principal: str, uid: str) -> None:
        self.principal = principal
        self.uid = uid
        super().__init__(
            f"framework principal {principal!r} does not match the service account {uid!r}: "
            "in strict mode DC/OS requires them to be equal. Set framework['principal'] to "
            f"{uid!r} (or leave it unset and it will be filled in), or use the account named {principal!r}."
        )


class SecurityModeError(ConfigurationError, ValueError):
    """A security mode value is not one of disabled, permissive, strict."""

    def __init__(self, value: str, source: str) -> None:
        self.value = value
        self.source = source
        super().__init__(
            f"unknown DC/OS security mode {value!r} from {source}: use 'disabled', 'permissive' or 'strict'"
        )


class InsecureTransportError(ConfigurationError):
    """Strict mode forbids sending credentials over plain http.

    ``what`` names the credential ("a login token", "an authentication token",
    "the framework's credentials"); ``fix`` is the one sentence that says what to
    do, by default: use the same address with https.
    """

    def __init__(self, url: str, what: str = "a login token", fix: Optional[str] = None) -> None:
        self.url = safe_url(url)
        self.what = what
        self.fix = fix if fix is not None else f"Use {https_twin(self.url)} instead."
        super().__init__(
            f"refusing to send {what} over plain http to {self.url}: in strict mode no credential travels "
            f"in clear text. {self.fix}"
        )


def https_twin(url: str) -> str:
    """``url`` with ``https`` as its scheme (``host:port`` without a scheme gets one)."""
    scheme, sep, rest = url.partition("://")
    return f"https://{rest}" if sep else f"https://{scheme}"


class PlainHttpToTLSError(ConfigurationError):
    """Plain http was sent to a port that speaks TLS (a master or an IAM served over https only).

    Such a server does not answer http: it resets the connection, sends a TLS alert
    (``\\x15\\x03...``) or a status line that is not HTTP. The driver and the IAM client
    then probe the port once with a TLS ClientHello, carrying no credential
    (:func:`mesos_auth.transport.speaks_tls`), and raise this when a ServerHello comes
    back. ``component`` is ``"master"`` or ``"IAM"``, ``url`` where http went,
    ``https_url`` the address to use instead.
    """

    def __init__(self, url: str, *, component: str, fix: Optional[str] = None) -> None:
        self.url = safe_url(url)
        self.component = component
        self.https_url = https_twin(self.url)
        self.fix = fix if fix is not None else f"Use {self.https_url} or set MESOS_AUTH_SECURITY_MODE=strict."
        super().__init__(f"the {component} at {self.url} does not answer plain http: this port speaks TLS. {self.fix}")


class UnsafeRedirectError(ConfigurationError):
    """A server redirected a request that carries a credential somewhere it must not go.

    ``url`` is where the request went, ``location`` where the server sent it (both
    without userinfo), ``reason`` why it was not followed.
    """

    def __init__(self, url: str, location: Optional[str], reason: str, fix: str = "") -> None:
        self.url = safe_url(url)
        self.location = safe_url(location) if location else ""
        self.reason = reason
        self.fix = fix
        target = f"to {self.location}" if self.location else "without a usable Location"
        message = f"refused to follow the redirect from {self.url} {target}: {reason}"
        super().__init__(f"{message}. {fix}" if fix else message)


class WeakKeyError(CredentialError):
    """The service account's RSA key is shorter than 2048 bits."""

    def __init__(self, bits: int, *, source: str, minimum: int = 2048) -> None:
        self.bits = bits
        self.minimum = minimum
        super().__init__(
            f"is a {bits}-bit RSA key; at least {minimum} bits are required",
            source=source,
            field="private_key",
            fix=(
                f"make a new key pair of {minimum} bits or more (mesos-auth keypair), register its public "
                "key with the account and put the new private key in the secret"
            ),
        )


class CABundleError(ConfigurationError):
    """A CA bundle was named but cannot be used."""

    def __init__(self, path: str, source: str, problem: str) -> None:
        self.path = path
        self.source = source
        self.problem = problem
        super().__init__(
            f"CA bundle {path} (from {source}) {problem}. Point ca_bundle or MESOS_AUTH_CA_BUNDLE at the "
            "cluster's CA certificate file (on DC/OS nodes /run/dcos/pki/CA/ca-bundle.crt)"
        )


# --------------------------------------------------------------------------
# The IAM, the wire, and tokens
# --------------------------------------------------------------------------


class IAMError(MesosAuthError):
    """The IAM refused a login or could not be reached in time."""


class LoginRejectedError(IAMError):
    """The IAM answered a login with a 4xx other than 429 (400, 401, ...): retrying will not help.

    ``code``, ``title`` and ``description`` are the IAM's own, capped and cleaned.
    The real IAM answers every credential problem with the same ``401``
    ``ERR_INVALID_CREDENTIALS``, ``Invalid credentials.``, so they do not say what
    is wrong. ``hint`` is ours, built from what the client knows
    (:mod:`mesos_auth.login_diagnosis`): ``clock_skew``, the IAM's clock minus
    ours in seconds by the ``Date`` header of its answer (None when it could not
    be read), and ``key_fingerprint``, the SHA-256 of the account's public key
    (DER, hex) to compare with the key registered for ``uid``. The fingerprint is
    of the public key: it is no secret.
    """

    def __init__(
        self,
        *,
        uid: str,
        endpoint: str,
        status: int,
        code: str = "",
        title: str = "",
        description: str = "",
        hint: str = "",
        clock_skew: Optional[float] = None,
        key_fingerprint: str = "",
    ) -> None:
        self.uid = uid
        self.endpoint = safe_url(endpoint)
        self.status = status
        self.code = server_text(code, 100)
        self.title = server_text(title, 200)
        self.description = server_text(description)
        self.hint = hint
        self.clock_skew = clock_skew
        self.key_fingerprint = key_fingerprint
        said = " - ".join(part for part in (self.code, self.title, self.description) if part) or "no details"
        message = f"IAM at {self.endpoint} rejected the login of {uid!r} (HTTP {status}: {said})"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class IAMProtocolError(IAMError):
    """The IAM answered something that is not the login API: a wrong endpoint, or a broken server.

    Not retried by :class:`~mesos_auth.iam.IAMClient` (a wrong endpoint stays
    wrong); a running driver retries it with its backoff.
    """


class IAMUnavailableError(IAMError):
    """Every login attempt failed with a retryable error until the deadline.

    ``endpoint`` is the login endpoint (without userinfo), ``attempts`` the attempts
    made, ``elapsed`` the seconds they took, ``last_problem`` what the last one met.
    ``timeout`` is the driver's ``timeout`` when it is what ran out (the driver
    could not subscribe because it could not log in), else None.
    """

    def __init__(
        self, *, endpoint: str, attempts: int, elapsed: float, last_problem: str, timeout: Optional[float] = None
    ) -> None:
        self.endpoint = safe_url(endpoint)
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_problem = server_text(last_problem)
        self.timeout = timeout
        within = f" within the driver's timeout ({duration(timeout)})" if timeout is not None else ""
        later = "or give the driver a longer timeout" if timeout is not None else "then try again"
        super().__init__(
            f"could not log in at the IAM {self.endpoint}{within}: {attempts} attempt(s) over {elapsed:.1f} s "
            f"failed, the last with {self.last_problem.rstrip('.')}. Check that the IAM is up and reachable from here "
            f"(the login_endpoint of the service account), {later}."
        )


def duration(seconds: float) -> str:
    """``seconds`` for a reader: ``2 s``, ``1.5 min``, ``24 h``."""
    if seconds < 90:
        return f"{seconds:.3g} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


class TransportError(MesosAuthError):
    """A request could not be made: connection refused, timeout, broken stream."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = safe_url(url)
        self.problem = server_text(problem)
        super().__init__(f"request to {self.url} failed: {self.problem}")


class TransportTimeoutError(TransportError):
    """A request did not complete within its total deadline (a mute or trickling server)."""


class ResponseTooLargeError(TransportError):
    """A server's answer was larger than the cap set for it; the rest was not read."""

    def __init__(self, url: str, what: str, limit: int) -> None:
        self.limit = limit
        super().__init__(url, f"{what} is larger than {limit} bytes; it was not read")


class TLSVerificationError(TransportError):
    """The server's certificate is not trusted by the CA bundle in use."""

    def __init__(self, url: str, problem: str, ca_bundle: Optional[str]) -> None:
        self.ca_bundle = ca_bundle
        self.url = safe_url(url)
        self.problem = server_text(problem)
        trusted = f"the CA bundle {ca_bundle}" if ca_bundle else "the system's trust store"
        MesosAuthError.__init__(
            self,
            f"the certificate of {self.url} is not trusted by {trusted}: {self.problem}. Give the cluster's CA "
            "bundle with ca_bundle= or MESOS_AUTH_CA_BUNDLE (on DC/OS nodes /run/dcos/pki/CA/ca-bundle.crt)",
        )


class TokenError(MesosAuthError):
    """An authentication token is unusable."""


class InvalidTokenError(TokenError, ValueError):
    """A token could not be decoded, is not a compact JWT, or lacks a claim it must have."""


class TokenExpiredError(TokenError):
    """A token arrived already expired: the local clock and the IAM's disagree."""

    def __init__(self, *, uid: str, expires_at: float, now: float) -> None:
        self.uid = uid
        self.expires_at = expires_at
        self.now = now
        super().__init__(
            f"the IAM issued a token for {uid!r} that expired {now - expires_at:.0f} s before it arrived: "
            "this machine's clock is ahead of the IAM's. Synchronise the clock (NTP) and try again"
        )


# --------------------------------------------------------------------------
# The Mesos master
# --------------------------------------------------------------------------


class NotConnectedError(MesosAuthError, RuntimeError):
    """A call was made while the driver is not subscribed (pymesos raised RuntimeError)."""

    def __init__(self, call: str = "call", *, stopped: bool = False) -> None:
        self.call = call
        self.stopped = stopped
        if stopped:
            super().__init__(
                f"cannot send {call}: the driver is stopped. Call start() (or run()) again to talk to the master."
            )
        else:
            super().__init__(f"cannot send {call}: the driver is not subscribed to a master yet")


class MasterCallError(MesosAuthError, RuntimeError):
    """The master refused a call (non-2xx). ``status``, ``call`` and ``message`` hold the facts.

    Also a RuntimeError, which is what pymesos raised, so existing handlers keep working.
    """

    def __init__(self, status: int, call: str, message: str, *, master: str = "") -> None:
        self.status = status
        self.call = server_text(call, 60)
        self.message = server_text(message)
        self.master = safe_url(master)
        where = f" at {self.master}" if self.master else ""
        super().__init__(f"master{where} answered {self.call} with HTTP {status}: {self.message or 'no details'}")


class SubscriptionRefusedError(MesosAuthError):
    """The master refused the framework for good (a 400 on SUBSCRIBE or an ERROR event)."""

    def __init__(self, message: str, *, status: int = 0, master: str = "") -> None:
        self.message = server_text(message)
        self.status = status
        self.master = safe_url(master)
        how = f"HTTP {status}" if status else "an ERROR event"
        super().__init__(f"master {self.master} refused the framework with {how}: {self.message}")


class PermissionDeniedError(MesosAuthError):
    """The master refused something for lack of a DC/OS permission (strict mode).

    Made by the driver from what Mesos sends when its authorizer says no: a
    ``TASK_ERROR`` update with reason ``REASON_TASK_UNAUTHORIZED`` or
    ``REASON_TASK_GROUP_UNAUTHORIZED`` (LAUNCH, LAUNCH_GROUP), an ``OPERATION_ERROR``
    operation status (RESERVE, UNRESERVE, CREATE, DESTROY, ... with an operation id,
    Mesos 1.7+), or an ``ERROR`` event refusing SUBSCRIBE
    (:class:`PermissionRefusedError`). Given to the scheduler's ``permissionDenied``.

    - ``permission``: the missing :class:`~mesos_auth.permissions.Permission`, or
      None when the master's text does not say (an authorizer failure, a text of a
      release mesos-auth does not know);
    - ``mesos_message``: the master's text (capped, cleaned);
    - ``uid``: the account the grant command is for;
    - ``task_id`` / ``operation_id``: what was refused, where known;
    - ``grant_command``: ``dcos security org users grant <uid> <rid> <action>``, or None.
    """

    def __init__(
        self,
        mesos_message: str,
        *,
        permission: Optional[Permission] = None,
        uid: str = "",
        task_id: Optional[str] = None,
        operation_id: Optional[str] = None,
        master: str = "",
    ) -> None:
        self.mesos_message = server_text(mesos_message)
        self.permission = permission
        self.uid = uid
        self.task_id = server_text(task_id, 200) if task_id is not None else None
        self.operation_id = server_text(operation_id, 200) if operation_id is not None else None
        self.master = safe_url(master)
        # Not super(): in PermissionRefusedError the next class is SubscriptionRefusedError,
        # whose __init__ would rebuild the message from ours.
        MesosAuthError.__init__(self, self._describe())

    @property
    def grant_command(self) -> Optional[str]:
        """The DC/OS CLI command that grants the missing permission, or None when it is not known."""
        if self.permission is None:
            return None
        return _grant_command(self.permission, self.uid)

    def _subject(self) -> str:
        if self.task_id is not None:
            return f"task {self.task_id!r}"
        if self.operation_id is not None:
            return f"operation {self.operation_id!r}"
        return "a call"

    def _describe(self) -> str:
        where = f"master {self.master}" if self.master else "the master"
        said = self.mesos_message or "no details"
        return f"{where} refused {self._subject()} for lack of a permission ({said}). " + _lacks(
            (self.permission,) if self.permission is not None else (), self.uid
        )


class PermissionRefusedError(PermissionDeniedError, SubscriptionRefusedError):
    """The master refused SUBSCRIBE for lack of a permission (e.g. to register with a role): fatal.

    Mesos answers such a SUBSCRIBE with ``200`` and one ``ERROR`` event (apache/mesos
    ``src/master/master.cpp``, ``Master::subscribe`` / ``checkSubscribeAuthorization``);
    the driver stops with this error. ``permissions`` holds every permission the text
    points at: Mesos names all the roles asked for, not the one that is missing, so
    any of them may be the one (granting one that is held already changes nothing).
    ``permission`` is the first of them; ``grant_commands`` their grant commands.
    """

    def __init__(
        self,
        message: str,
        *,
        master: str = "",
        principal: str = "",
        permissions: Sequence[Permission] = (),
        uid: str = "",
    ) -> None:
        self.principal = principal
        self.permissions: Tuple[Permission, ...] = tuple(permissions)
        self.message = server_text(message)
        self.status = 0
        super().__init__(
            message,
            permission=self.permissions[0] if self.permissions else None,
            uid=uid or principal,
            master=master,
        )

    @property
    def grant_commands(self) -> Tuple[str, ...]:
        return tuple(_grant_command(p, self.uid) for p in self.permissions)

    def _describe(self) -> str:
        account = f"the service account {self.uid!r}" if self.uid else "the framework's principal"
        return f"master {self.master} refused the framework: {self.message}. " + _lacks(
            self.permissions,
            self.uid,
            fallback=f"Grant {account} the permission it lacks (the master's text does not name it; the DC/OS "
            f"audit log does: {AUDIT_LOG_HINT}), or register with a role it may use",
        )


#: Where DC/OS writes authorization denials (DC/OS docs, security/ent/service-auth/custom-service-auth).
AUDIT_LOG_HINT = 'journalctl -u "dcos-*" | grep audit | grep deny'
#: Placeholder for the account in a grant command when the uid is not known.
UNKNOWN_UID = "<service-account-id>"


def _grant_command(permission: Permission, uid: str) -> str:
    return server_text(permission.grant_command(uid or UNKNOWN_UID), 600)


def _lacks(permissions: Sequence[Permission], uid: str, *, fallback: str = "") -> str:
    """The sentence naming the missing permission(s) and how to grant them."""
    account = f"The service account {uid!r}" if uid else "The service account"
    if not permissions:
        return (
            fallback
            or "Which permission is missing is not in the master's text; the DC/OS audit log names it "
            f"({AUDIT_LOG_HINT})"
        )
    names = ", ".join(server_text(f"{p.rid} {p.action}", 300) for p in permissions)
    commands = "; ".join(_grant_command(p, uid) for p in permissions)
    if len(permissions) == 1:
        return f"{account} lacks the permission {names}. Grant it with: {commands}"
    return f"{account} lacks one or more of the permissions {names}. Grant them with: {commands}"


class AuthenticationFailedError(MesosAuthError):
    """The master keeps answering 401 although fresh credentials were sent."""

    def __init__(self, master: str, detail: str) -> None:
        self.master = safe_url(master)
        self.detail = server_text(detail)
        super().__init__(f"master {self.master} refused our credentials (HTTP 401): {self.detail}")


class MasterUnreachableError(TransportError):
    """No master could be subscribed to within the driver's timeout.

    ``url`` is the master tried last (without userinfo), ``problem`` what its last
    attempt met, ``timeout`` the driver's ``timeout`` that ran out (None when not
    told), ``masters`` every master the driver was given (several, comma-separated,
    or the ``zk://`` URL).
    """

    def __init__(self, url: str, problem: str, *, timeout: Optional[float] = None, masters: Sequence[str] = ()) -> None:
        self.url = safe_url(url)
        self.problem = server_text(problem)
        self.timeout = timeout
        self.masters = tuple(safe_url(m) for m in masters)
        within = f" within the driver's timeout ({duration(timeout)})" if timeout is not None else ""
        tried = f" (tried: {', '.join(self.masters)})" if len(self.masters) > 1 else ""
        fix = "Check that a Mesos master runs at that address and is reachable from here (host, port, http or https)"
        if timeout is not None:
            fix += ", or give the driver a longer timeout"
        MesosAuthError.__init__(
            self, f"could not subscribe to the master at {self.url}{tried}{within}: {self.problem.rstrip('.')}. {fix}."
        )
