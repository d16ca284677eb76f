"""DCOSAuth: a ``requests`` auth for a service's own calls to DC/OS APIs.

    session = DCOSSession(provider)          # or: session.auth = DCOSAuth(provider)
    session.get("https://master.mesos/service/marathon/v2/apps")

It sets ``Authorization: token=<JWT>`` on every request (computed per request,
never fixed), and on a ``401`` invalidates that token, logs in again and resends
the request once (dcos-go's rule).

No credential leaves its origin. The token is meant for the origin (scheme, host,
port) of the URL the caller asked for, and :class:`DCOSAuth` records that origin
and the token it sent in the response hook it registers on that one request (not
in attributes of the request: ``requests`` copies hooks, not attributes, onto the
requests of a redirect). The hook resends after a ``401`` only when the ``401``
came from that origin for a request that carried that very token, invalidates
exactly that token, never resends over plain http in strict mode, and resends at
most once per call. So a service that answers ``302 -> http://elsewhere/`` and
then ``401`` gets no fresh token, and nor does anything else.

Whether the ``Authorization`` header itself survives a redirect is decided by the
session: :class:`DCOSSession` drops it whenever a redirect changes the origin and
never adds it back on a later hop; a plain ``requests.Session`` applies its own
``should_strip_auth`` rule, which keeps the header for an ``http -> https``
redirect between default ports of the same host.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Mapping, MutableMapping, Optional, Tuple, Union
from urllib.parse import urlsplit

import requests
from requests.utils import rewind_body

from mesos_auth import _http
from mesos_auth._redact import safe_url
from mesos_auth.ca import CABundleLike, resolve_ca_bundle
from mesos_auth.errors import InsecureTransportError
from mesos_auth.security_mode import SecurityMode, detect_security_mode
from mesos_auth.tokens import TokenProvider

logger = logging.getLogger(__name__)

#: An origin as RFC 6454 has it: scheme, host (lower case), port (default filled in).
Origin = Tuple[str, str, int]


def origin_of(url: Union[str, bytes, None]) -> Optional[Origin]:
    """The origin ``(scheme, host, port)`` of an http(s) ``url``; None when it has none
    (another scheme, no host, a bad port)."""
    if url is None:
        return None
    if isinstance(url, bytes):
        url = url.decode("utf-8", "replace")
    try:
        origin = _http.Origin.of(url)
    except ValueError:
        return None
    return origin.scheme, origin.host, origin.port


def same_origin(first: Union[str, bytes, None], second: Union[str, bytes, None]) -> bool:
    """Whether two URLs share scheme, host and port (two URLs without an origin never do)."""
    origin = origin_of(first)
    return origin is not None and origin == origin_of(second)


def _shown(url: Union[str, bytes, None]) -> str:
    """A URL fit for a log line: its origin only, redacted (no path, query or userinfo)."""
    origin = origin_of(url)
    if origin is None:
        return "<a URL without an origin>"
    return safe_url(str(_http.Origin(*origin)))


class _Sent:
    """What :class:`DCOSAuth` did to one request the caller made (kept by that request's hook)."""

    __slots__ = ("header", "origin", "resent", "token")

    def __init__(self, origin: Optional[Origin], token: str) -> None:
        self.origin = origin
        self.token = token
        self.header = f"token={token}"
        self.resent = False


def _resendable_body(request: requests.PreparedRequest) -> bool:
    """Whether the body can be sent again: none, bytes or text, or a file we can rewind."""
    body = request.body
    if body is None or isinstance(body, (bytes, str)):
        return True
    return hasattr(body, "seek") and isinstance(getattr(request, "_body_position", None), int)


class DCOSAuth(requests.auth.AuthBase):
    """Authenticate requests with a :class:`TokenProvider`'s token, for their origin only.

    The security mode is ``security_mode`` if given, else the provider's IAM
    client's, else detected as the driver does (``$MESOS_AUTH_SECURITY_MODE``, then
    the node's bootstrap config; ``environ`` replaces ``os.environ`` for tests). In
    strict mode a request to a plain-http URL is refused with
    :class:`~mesos_auth.errors.InsecureTransportError` before the token is even
    computed.

    After a ``401`` the request is resent once with a new token, but only if the
    ``401`` came from the origin (scheme, host, port) of the URL the caller asked
    for, for a request that carried the token set here, and (in strict mode) over
    https; only the refused token is invalidated, so a token another thread has
    just obtained is kept. Any other ``401`` is returned as it is.

    What happens to the header on a redirect is the session's business: with
    :class:`DCOSSession` it is dropped as soon as a redirect changes the origin;
    with a plain ``requests.Session`` requests' own rule applies, which keeps it on
    an ``http -> https`` redirect between the default ports of one host. Either
    way no token is ever obtained for, or resent to, another origin.
    """

    def __init__(
        self,
        provider: TokenProvider,
        *,
        security_mode: Union[SecurityMode, str, None] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.provider = provider
        if security_mode is None:
            security_mode = getattr(getattr(provider, "iam", None), "security_mode", None)
        self.security_mode: SecurityMode = detect_security_mode(security_mode, environ=environ)

    def __repr__(self) -> str:
        return f"DCOSAuth(uid={self.provider.uid!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = request.url or ""
        if self.security_mode is SecurityMode.STRICT and urlsplit(url).scheme.lower() != "https":
            raise InsecureTransportError(url, "an authentication token")
        sent = _Sent(origin_of(url), self.provider.token())
        request.headers["Authorization"] = sent.header
        request.register_hook("response", functools.partial(self._after_response, sent))  # type: ignore[no-untyped-call]
        return request

    def _after_response(self, sent: _Sent, response: requests.Response, **kwargs: Any) -> requests.Response:
        """The response hook of one caller's request (and of the requests of its redirects)."""
        if response.status_code != 401 or sent.resent:
            return response
        refused = response.request
        if refused is None:
            return response
        where = origin_of(refused.url)
        if where is None or where != sent.origin:
            logger.debug("401 from %s, not the origin the token was for: returned as is", _shown(refused.url))
            return response
        if refused.headers.get("Authorization") != sent.header:
            logger.debug("401 from %s for a request without our token: returned as is", _shown(refused.url))
            return response
        if self.security_mode is SecurityMode.STRICT and where[0] != "https":
            return response
        if not _resendable_body(refused):
            logger.info("401 from %s: the request body cannot be sent again, so it is not", _shown(refused.url))
            return response
        sent.resent = True
        self.provider.invalidate(sent.token)
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        token = self.provider.token()
        retry = refused.copy()
        retry.headers["Authorization"] = f"token={token}"
        if refused.body is not None and not isinstance(refused.body, (bytes, str)):
            rewind_body(retry)
        logger.info("401 from %s: token of %r invalidated, resending once", _shown(refused.url), self.provider.uid)
        new_response: requests.Response = response.connection.send(retry, **kwargs)
        new_response.history.append(response)
        new_response.request = retry
        return new_response


class DCOSSession(requests.Session):
    """A ``requests.Session`` with :class:`DCOSAuth` and the cluster's CA bundle.

    It verifies TLS with the same CA bundle as the provider's IAM client (or
    ``ca_bundle``), and, unlike a plain session, keeps that bundle even when
    ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` is set in the environment (plain
    requests lets those override ``session.verify``; psf/requests#3829).

    ``security_mode`` (and ``environ``, for tests) go to :class:`DCOSAuth`: when not
    given, the mode is the provider's IAM client's or is detected as the driver
    does, and in strict mode no request carrying the token goes over plain http.

    On a redirect the ``Authorization`` header is dropped whenever the origin
    (scheme, host or port) changes, including ``http -> https`` on one host
    (stricter than a plain ``requests.Session``, which keeps it there), and it is
    not put back on a later hop, even one that returns to the first origin.
    ``~/.netrc`` is not consulted on redirects either.
    """

    def __init__(
        self,
        provider: TokenProvider,
        *,
        ca_bundle: CABundleLike = None,
        security_mode: Union[SecurityMode, str, None] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        super().__init__()
        self.auth = DCOSAuth(provider, security_mode=security_mode, environ=environ)
        bundle = resolve_ca_bundle(ca_bundle) if ca_bundle is not None else provider.iam.ca_bundle
        self.verify = bundle.verify

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Keep the header the previous hop carried only while the origin stays the same."""
        previous = response.request
        carried = previous.headers.get("Authorization") if previous is not None else None
        if carried is not None and previous is not None and same_origin(previous.url, prepared_request.url):
            # The previous hop's header, which after a resend is the new token, not the refused one.
            prepared_request.headers["Authorization"] = carried
            return
        if "Authorization" in prepared_request.headers:
            del prepared_request.headers["Authorization"]
            logger.debug(
                "redirect from %s to %s changes the origin: Authorization dropped",
                _shown(previous.url if previous is not None else None),
                _shown(prepared_request.url),
            )

    def merge_environment_settings(
        self,
        url: Union[str, bytes, None],
        proxies: Optional[MutableMapping[str, str]],
        stream: Optional[bool],
        verify: Union[bool, str, None],
        cert: Any,
    ) -> Any:
        if verify is None and self.verify is not True:
            verify = self.verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)
