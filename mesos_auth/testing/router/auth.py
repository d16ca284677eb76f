"""Admin Router's own check of a DC/OS authentication token, before it proxies.

Admin Router is a DC/OS authenticator: on the locations that call
``auth.do_authn_and_authz_or_exit_http()`` (``/mesos/``, ``/acs/api/v1`` outside
``/auth/``, ...) it validates the token itself and answers 401 when it fails.
This follows dcos/dcos ``packages/adminrouter/extra/src/lib/auth/common.lua``
(``validate_jwt``) and ``lib/auth/open.lua`` (``validate_jwt_or_exit``):

- the token comes from ``Authorization`` by the Lua pattern ``token=(.+)``, else
  ``Bearer (.+)``; an ``Authorization`` header that matches neither means no
  token (the cookie is then not looked at);
- without ``Authorization``, from the ``dcos-acs-auth-cookie`` cookie, and the
  request goes upstream with ``Authorization: token=<cookie>``;
- the JWT must verify (RS256 with the IAM's key), carry a ``uid`` claim, and an
  ``exp``, when present, must be later than now (``opt_is_not_expired``, leeway 0);
  ``exp`` is optional ("Do not yet enforce that");
- a refusal is ``401`` with ``Content-Type: text/html; charset=UTF-8``, the UI's
  ``errorpages/401.html`` body (``ngx.say`` adds a newline) and
  ``WWW-Authenticate: acsjwt``: the Enterprise value (``oauthjwt`` is DC/OS Open's),
  per the Admin Router test harness ``modules/util.py`` (``auth_type_str``).

Not modelled: Enterprise Admin Router's authorisation (``dcos:adminrouter:ops:mesos``
and friends); its Lua is not public. Revocation and account removal are the
IAM's business, not Admin Router's: a token the IAM would refuse for those
reasons still passes here (the master checks it again with the IAM).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mesos_auth.testing._server import Response

AUTH_COOKIE = "dcos-acs-auth-cookie"
INFO_COOKIE = "dcos-acs-info-cookie"
AUTH_TYPE = "acsjwt"

#: dcos/dcos packages/adminrouter/extra/src/errorpages/401.html, sent by ``ngx.say`` (a newline added).
UNAUTHORIZED_PAGE = """<!DOCTYPE html>

<html>
<head>
  <title>Unauthorized</title>
  <noscript><meta http-equiv="refresh" content="5; url=/#/login"></noscript>
  <script>
    (function () {
      var location = window.location;
      location.href = "/#/login?redirect=" + encodeURIComponent(location.href);
    }())
  </script>
</head>
<body>
  <h1>Unauthorized</h1>
</body>
</html>
"""

_TOKEN = re.compile(r"token=(.+)", re.DOTALL)
_BEARER = re.compile(r"Bearer (.+)", re.DOTALL)
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def unauthorized() -> Response:
    body = (UNAUTHORIZED_PAGE + "\n").encode()
    return Response(401, body, [("Content-Type", "text/html; charset=UTF-8"), ("WWW-Authenticate", AUTH_TYPE)])


def presented_token(headers: Mapping[str, str]) -> Tuple[Optional[str], bool]:
    """The token a request presents, and whether it came from the cookie."""
    authorization = _header(headers, "Authorization")
    if authorization is not None:
        match = _TOKEN.search(authorization) or _BEARER.search(authorization)
        return (match.group(1) if match else None), False
    token = _cookies(headers).get(AUTH_COOKIE)
    return token, token is not None


def forwarded_cookie(headers: Mapping[str, str]) -> Optional[str]:
    """The ``Cookie`` header sent upstream: DC/OS' own cookies removed (``util.clear_dcos_cookies``).

    None when no cookie is left (unverified: the Lua sets the header to an empty
    string then, which we take to mean no header).
    """
    kept = [f"{name}={value}" for name, value in _cookies(headers).items() if name not in (AUTH_COOKIE, INFO_COOKIE)]
    return "; ".join(kept) or None


class TokenValidator:
    """Validates tokens as Admin Router does, with the IAM's public key.

    ``public_key`` returns the IAM's key (Admin Router is given it at start; the
    router here fetches the IAM's JWKS at first need). ``clock`` is the cluster's
    wall clock, the one the IAM issues tokens by.
    """

    def __init__(self, public_key: Callable[[], Optional[rsa.RSAPublicKey]], clock: Callable[[], float]) -> None:
        self._public_key = public_key
        self._clock = clock

    def uid(self, token: Optional[str]) -> Optional[str]:
        """The token's uid when Admin Router lets it through, else None."""
        if token is None:
            return None
        key = self._public_key()
        if key is None:  # "Auth token verification key not set. Reject request."
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header = _json_part(parts[0])
        claims = _json_part(parts[1])
        signature = _b64url(parts[2])
        if header is None or claims is None or signature is None or header.get("alg") != "RS256":
            return None
        try:
            key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return None
        exp = claims.get("exp")
        if exp is not None and not (_is_number(exp) and exp > self._clock()):
            return None
        uid = claims.get("uid")
        return uid if isinstance(uid, str) else None


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _cookies(headers: Mapping[str, str]) -> Dict[str, str]:
    raw = _header(headers, "Cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _b64url(text: str) -> Optional[bytes]:
    if not _B64URL.match(text) or len(text) % 4 == 1:
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _json_part(text: str) -> Optional[Dict[str, Any]]:
    data = _b64url(text)
    if data is None:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
