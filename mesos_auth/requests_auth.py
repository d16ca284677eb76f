"""DCOSAuth: a ``requests`` auth for a service's own calls to DC/OS APIs.

    session = DCOSSession(provider)          # or: session.auth = DCOSAuth(provider)
    session.get("https://master.mesos/service/marathon/v2/apps")

It sets ``Authorization: token=<JWT>`` on every request (computed per request,
never fixed), and on a ``401`` invalidates that token, logs in again and resends
the request once (dcos-go's rule). The retry mark lives on the resent request
itself, so there is no shared state between threads and no loop.
"""

from __future__ import annotations

from typing import Any, MutableMapping, Optional, Union
from urllib.parse import urlsplit

import requests

from mesos_auth.ca import CABundleLike, resolve_ca_bundle
from mesos_auth.errors import InsecureTransportError
from mesos_auth.security_mode import SecurityMode
from mesos_auth.tokens import TokenProvider

_SENT_TOKEN = "_mesos_auth_token"
_RESENT = "_mesos_auth_resent"


class DCOSAuth(requests.auth.AuthBase):
    """Authenticate requests with a :class:`TokenProvider`'s token.

    In strict mode (taken from the provider's IAM client unless given) a request
    to a plain-http URL is refused before the token is sent.
    """

    def __init__(self, provider: TokenProvider, *, security_mode: Any = None) -> None:
        self.provider = provider
        mode = security_mode if security_mode is not None else provider.iam.security_mode
        self.security_mode = SecurityMode.parse(mode) if mode is not None else None

    def __repr__(self) -> str:
        return f"DCOSAuth(uid={self.provider.uid!r})"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = request.url or ""
        if self.security_mode is SecurityMode.STRICT and urlsplit(url).scheme != "https":
            raise InsecureTransportError(url, "an authentication token")
        token = self.provider.token()
        request.headers["Authorization"] = f"token={token}"
        setattr(request, _SENT_TOKEN, token)
        request.register_hook("response", self._resend_after_401)  # type: ignore[no-untyped-call]
        return request

    def _resend_after_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        sent = response.request
        if response.status_code != 401 or getattr(sent, _RESENT, False):
            return response
        self.provider.invalidate(getattr(sent, _SENT_TOKEN, None))
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        retry = sent.copy()
        token = self.provider.token()
        retry.headers["Authorization"] = f"token={token}"
        setattr(retry, _SENT_TOKEN, token)
        setattr(retry, _RESENT, True)
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
    """

    def __init__(self, provider: TokenProvider, *, ca_bundle: CABundleLike = None) -> None:
        super().__init__()
        self.auth = DCOSAuth(provider)
        bundle = resolve_ca_bundle(ca_bundle) if ca_bundle is not None else provider.iam.ca_bundle
        self.verify = bundle.verify

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
