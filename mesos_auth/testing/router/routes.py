"""Which Admin Router location a request path falls in, and what it becomes upstream.

A pure function of the path, so that the route table reads as a table. The
locations are those of dcos/dcos ``packages/adminrouter/extra/src/`` that a
framework meets, matched as nginx matches prefix locations (the longest prefix
wins):

- ``location /acs/api/v1/auth/`` (``includes/server/open/master.conf``): the IAM,
  no authentication (login, JWKS);
- ``location /acs/api/v1`` (``includes/server/master.conf``): the IAM, after
  ``auth.access_acsapi_endpoint()`` (an authentication token is required);
- ``location /mesos/`` (``includes/server/master.conf``): the leading master after
  ``auth.access_mesos_endpoint()``, ``rewrite ^/mesos/(.*) /$1 break``,
  ``proxy_buffering off`` (streams pass through) and ``keepalive_timeout 0``
  (``Connection: close``); ``/mesos`` itself is nginx's 301 to ``/mesos/``
  (a prefix location ending in a slash with ``proxy_pass``; relative, as
  ``absolute_redirect off`` in ``includes/server/common.conf`` asks);
- ``/ca/dcos-ca.crt``: the cluster's CA certificate, without authentication, as
  the DC/OS Enterprise documentation fetches it (``curl -k https://<cluster>/ca/dcos-ca.crt``;
  the Enterprise configuration itself is not public);
- anything else: nginx's 404 (the UI's static ``location /`` has no such file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

IAM_PREFIX = "/acs/api/v1"
IAM_OPEN_PREFIX = "/acs/api/v1/auth/"
MESOS_PREFIX = "/mesos/"
CA_PATH = "/ca/dcos-ca.crt"

IAM = "iam"
MESOS = "mesos"
CA = "ca"
REDIRECT = "redirect"
NOT_FOUND = "not-found"


@dataclass(frozen=True)
class Route:
    """Where one request goes: ``upstream`` (one of the names above) and the path it is sent with."""

    upstream: str
    path: str
    authenticate: bool = False
    #: ``Connection: close`` to the client (``keepalive_timeout 0``).
    close: bool = False
    location: Optional[str] = None  # for REDIRECT


def route(path: str) -> Route:
    """The route of ``path`` (without the query, which goes upstream unchanged)."""
    if path.startswith(IAM_OPEN_PREFIX):
        return Route(IAM, path)
    if path.startswith(MESOS_PREFIX):
        return Route(MESOS, "/" + path[len(MESOS_PREFIX) :], authenticate=True, close=True)
    if path == MESOS_PREFIX.rstrip("/"):
        return Route(REDIRECT, path, location=MESOS_PREFIX)
    if path.startswith(IAM_PREFIX):
        return Route(IAM, path, authenticate=True)
    if path == CA_PATH:
        return Route(CA, path)
    return Route(NOT_FOUND, path)
