"""Connections from an executor to its agent: TCP (plain or TLS) or the agent's Unix socket.

TLS follows the scheduler driver's rules: the agent's certificate and host name
are always verified, against the CA bundle found as for the master (``ca_bundle=``,
``MESOS_AUTH_CA_BUNDLE``), then the ``LIBPROCESS_SSL_CA_FILE`` the executor
inherited from the agent (what libprocess would use), then the task sandbox's
``.ssl/ca-bundle.crt``, the DC/OS node bundle, the system store. libprocess
itself verifies a server only when ``LIBPROCESS_SSL_VERIFY_SERVER_CERT`` is set
(``3rdparty/libprocess/src/openssl.cpp``); we never send the token to an agent
we have not verified.

A libprocess client presents ``LIBPROCESS_SSL_CERT_FILE``/``KEY_FILE`` when it
connects (an agent with ``LIBPROCESS_SSL_REQUIRE_CLIENT_CERT`` requires it); so
do we when both are set and readable. One that cannot be read (on DC/OS the
agent's key is root's, the executor may run as another user) is skipped with a
warning rather than failing an executor the agent may not ask a certificate of.
(unverified: whether DC/OS agents require client certificates of executors)

The Unix socket is plain HTTP (``Scheme::HTTP_UNIX`` in ``src/slave/slave.cpp``).
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import ssl
from typing import Any, Mapping, Optional, Tuple, cast

from mesos_auth import _deadline, _http
from mesos_auth._deadline import Deadline
from mesos_auth.ca import CA_BUNDLE_ENV, CABundle, CABundleLike, _checked, resolve_ca_bundle
from mesos_auth.executor_settings import AgentEndpoint, LibprocessTLS
from mesos_auth.transport import make_ssl_context

logger = logging.getLogger(__name__)


def resolve_agent_ca_bundle(
    explicit: CABundleLike, environ: Optional[Mapping[str, str]], libprocess_tls: LibprocessTLS
) -> CABundle:
    """The CA bundle that verifies the agent (order in the module docstring)."""
    env = os.environ if environ is None else environ
    if explicit is None and not env.get(CA_BUNDLE_ENV, "").strip() and libprocess_tls.ca_file:
        return _checked(libprocess_tls.ca_file, "$LIBPROCESS_SSL_CA_FILE")
    return resolve_ca_bundle(explicit, environ=environ)


def agent_ssl_context(ca_bundle: CABundle, libprocess_tls: LibprocessTLS) -> ssl.SSLContext:
    """A verifying client context, with libprocess' client certificate when it can be loaded."""
    context = make_ssl_context(ca_bundle)
    cert, key = libprocess_tls.cert_file, libprocess_tls.key_file
    if cert and key:
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError, ValueError) as exc:
            problem = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
            logger.warning(
                "not presenting a client certificate to the agent: LIBPROCESS_SSL_CERT_FILE/KEY_FILE "
                "could not be loaded (%s)",
                problem,
            )
    return context


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over the agent's Unix socket, its socket watched by deadlines as :mod:`mesos_auth._http` does."""

    _deadlines: Tuple[Deadline, ...] = ()
    read_timeout: Optional[float] = None

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            _deadline.watch(sock, *self._deadlines)
            sock.connect(self.socket_path)
            sock.settimeout(self.read_timeout)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def open_agent_connection(
    endpoint: AgentEndpoint,
    *,
    timeout: float,
    read_timeout: Optional[float] = None,
    context: Optional[ssl.SSLContext] = None,
    deadlines: Tuple[Deadline, ...] = (),
) -> http.client.HTTPConnection:
    """A not-yet-connected connection to the agent; ``read_timeout=None`` reads as long as it takes
    (an idle event stream is normal: the agent sends events when it has some)."""
    if endpoint.origin is not None:
        conn = _http.open_connection(endpoint.origin, connect_timeout=timeout, context=context, deadlines=deadlines)
        cast(Any, conn).read_timeout = read_timeout  # None: block (_http reads None as "the connect timeout")
        return conn
    unix = _UnixConnection(str(endpoint.socket_path), timeout)
    unix._deadlines = deadlines
    unix.read_timeout = read_timeout
    return unix
