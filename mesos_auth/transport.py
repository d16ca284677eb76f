"""Connections to the Mesos master, plain or TLS-verified.

pymesos has no TLS at all; a strict DC/OS cluster requires it. Both the event
stream and the calls use ``http.client`` connections made here, verified
against the resolved CA bundle, with certificate failures turned into
:class:`~mesos_auth.errors.TLSVerificationError` that names the bundle and the fix.
"""

from __future__ import annotations

import http.client
import ssl
from typing import Optional, Union

from mesos_auth.ca import CABundle
from mesos_auth.errors import TLSVerificationError
from mesos_auth.master_uri import MasterAddress

Connection = Union[http.client.HTTPConnection, http.client.HTTPSConnection]


def make_ssl_context(ca_bundle: CABundle) -> ssl.SSLContext:
    """A client context that verifies certificates and host names against ``ca_bundle``."""
    if ca_bundle.path:
        return ssl.create_default_context(cafile=ca_bundle.path)
    return ssl.create_default_context()


def open_connection(address: MasterAddress, *, timeout: float, context: Optional[ssl.SSLContext] = None) -> Connection:
    """A not-yet-connected HTTP(S) connection to ``address``."""
    if address.tls:
        return http.client.HTTPSConnection(address.host, address.port, timeout=timeout, context=context)
    return http.client.HTTPConnection(address.host, address.port, timeout=timeout)


def certificate_problem(exc: BaseException) -> Optional[str]:
    """The reason when ``exc`` is a failed certificate check, else None."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return exc.verify_message or str(exc)
    if isinstance(exc, ssl.CertificateError):
        return str(exc)
    return None


def tls_error(address: MasterAddress, exc: BaseException, ca_bundle: CABundle) -> Optional[TLSVerificationError]:
    problem = certificate_problem(exc)
    if problem is None:
        return None
    return TLSVerificationError(address.url, problem, ca_bundle.path)
