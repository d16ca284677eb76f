"""DCOSAuth: a ``requests`` auth for a service's own calls to DC/OS APIs.

    session.auth = DCOSAuth(provider)
    session.get("https://master.mesos/service/marathon/v2/apps")

It sets ``Authorization: token=<JWT>`` on every request (computed per request,
never fixed), and on a ``401`` invalidates that token, logs in again and resends
the request once (dcos-go's rule). The retry mark lives on the resent request
itself, so there is no shared state between threads and no loop.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

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
