"""Connections to the Mesos master, plain or TLS-verified, bounded by deadlines.

pymesos has no TLS at all; a strict DC/OS cluster requires it. Both the event
stream and the calls use connections made here (on :mod:`mesos_auth._http`):
verified against the resolved CA bundle, registered with the deadlines that
bound them, with certificate failures turned into
:class:`~mesos_auth.errors.TLSVerificationError` that names the bundle and the fix.
"""

from __future__ import annotations

import ssl
from typing import Optional, Tuple

from mesos_auth import _http
from mesos_auth._deadline import Deadline
from mesos_auth.ca import CABundle
from mesos_auth.errors import TLSVerificationError
from mesos_auth.master_uri import MasterAddress

Connection = _http.Connection


def make_ssl_context(ca_bundle: CABundle) -> ssl.SSLContext:
    """A client context that verifies certificates and host names against ``ca_bundle``."""
    if ca_bundle.path:
        return ssl.create_default_context(cafile=ca_bundle.path)
    return ssl.create_default_context()


def open_connection(
    address: MasterAddress,
    *,
    timeout: float,
    context: Optional[ssl.SSLContext] = None,
    deadlines: Tuple[Deadline, ...] = (),
) -> Connection:
    """A not-yet-connected HTTP(S) connection to ``address``, its socket watched by
    ``deadlines`` and by those active in the thread that connects it."""
    return _http.open_connection(address, connect_timeout=timeout, context=context, deadlines=deadlines)


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
