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

from typing import Optional, Sequence

from mesos_auth._redact import safe_url, server_text


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
    """Strict mode forbids sending credentials over plain http."""

    def __init__(
        self, url: str, what: str = "a login token", fix: str = "Use the https:// endpoint of the cluster"
    ) -> None:
        self.url = safe_url(url)
        self.what = what
        self.fix = fix
        super().__init__(
            f"refusing to send {what} over plain http to {self.url} in strict mode (it would travel in clear). {fix}"
        )


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
    """Every login attempt failed with a retryable error until the deadline."""

    def __init__(self, *, endpoint: str, attempts: int, elapsed: float, last_problem: str) -> None:
        self.endpoint = safe_url(endpoint)
        self.attempts = attempts
        self.elapsed = elapsed
        self.last_problem = server_text(last_problem)
        super().__init__(
            f"could not log in at {self.endpoint}: {attempts} attempt(s) over {elapsed:.1f} s failed, "
            f"the last with {self.last_problem}. Check that the IAM is up and reachable from here "
            "(the login_endpoint in the secret), then try again"
        )


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

    def __init__(self, call: str = "call") -> None:
        self.call = call
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


class PermissionRefusedError(SubscriptionRefusedError):
    """The principal is not allowed to do what the framework asked (e.g. register with a role)."""

    def __init__(self, message: str, *, master: str = "", principal: str = "") -> None:
        self.principal = principal
        super().__init__(message, master=master)
        self.args = (
            f"master {self.master} refused the framework: {self.message}. Grant the service account "
            f"{principal!r} the permission it lacks (e.g. dcos:mesos:master:framework:role:<role> create), "
            "or register with a role it may use",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class AuthenticationFailedError(MesosAuthError):
    """The master keeps answering 401 although fresh credentials were sent."""

    def __init__(self, master: str, detail: str) -> None:
        self.master = safe_url(master)
        self.detail = server_text(detail)
        super().__init__(f"master {self.master} refused our credentials (HTTP 401): {self.detail}")


class MasterUnreachableError(TransportError):
    """No master could be subscribed to within the driver's timeout."""
