"""A throw-away certificate authority for tests: real TLS on 127.0.0.1.

``TestCA`` makes a CA key and certificate, issues server certificates for
``localhost`` and ``127.0.0.1``, writes PEM files into a directory, and builds the
``ssl.SSLContext`` a fake server listens with. The CA bundle file is what a client
under test is given as its ``ca_bundle``, exactly as a DC/OS task is given
``/run/dcos/pki/CA/ca-bundle.crt``.

Server keys are written 0600 from their first byte. A ``TestCA`` made without a
directory makes a temporary one and removes it again (private keys included) on
:meth:`TestCA.cleanup`, at the end of a ``with`` block, when it is garbage
collected, or at interpreter exit, like :class:`tempfile.TemporaryDirectory`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import weakref
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Tuple, Union

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mesos_auth._files import PRIVATE_FILE_MODE, write_file

_VALIDITY = datetime.timedelta(days=2)
_BACKDATE = datetime.timedelta(hours=1)  # tolerates small clock differences


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class TestCA:
    """A CA made for one test run, with files under ``directory``.

    ``ca_bundle`` is the path of the CA certificate (give it to clients);
    ``server_context()`` returns an SSL context for a server on 127.0.0.1.
    Without ``directory`` the files go to a new temporary directory, which
    :meth:`cleanup` (or the end of a ``with`` block) removes; a directory that
    was given is left to its owner.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self, directory: Optional[Union[str, os.PathLike[str]]] = None, name: str = "mesos-auth test CA"
    ) -> None:
        if directory:
            self.directory = Path(directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            self._finalizer: Optional[Callable[[], object]] = None
        else:
            self.directory = Path(tempfile.mkdtemp(prefix="mesos-auth-ca-"))
            # Removed at cleanup(), on garbage collection or at exit, whichever comes first.
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.directory), ignore_errors=True)
        self._key = _new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_bundle = str(self.directory / "ca-bundle.crt")
        Path(self.ca_bundle).write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        self._server_files: Optional[Tuple[str, str]] = None

    def issue_server_certificate(
        self,
        hostnames: Sequence[str] = ("localhost",),
        addresses: Sequence[str] = ("127.0.0.1", "::1"),
        prefix: str = "server",
    ) -> Tuple[str, str]:
        """Write a server certificate and key signed by this CA; return their paths."""
        key = _new_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        names = [x509.DNSName(h) for h in hostnames] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0] if hostnames else "server")]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        cert_path = self.directory / f"{prefix}.crt"
        key_path = self.directory / f"{prefix}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_file(key_path, _key_pem(key), mode=PRIVATE_FILE_MODE, force=True)
        return str(cert_path), str(key_path)

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for a server on 127.0.0.1 / localhost, certificate issued once."""
        if self._server_files is None:
            self._server_files = self.issue_server_certificate()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self._server_files)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for a client that trusts this CA (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_bundle)

    # -- cleanup ---------------------------------------------------------------

    @property
    def owns_directory(self) -> bool:
        """Whether the directory is a temporary one this CA made (and removes)."""
        return self._finalizer is not None

    def cleanup(self) -> None:
        """Remove the temporary directory this CA made, keys included; idempotent.

        A directory given to the constructor is left as it is. Contexts already
        built keep working: their certificates and keys are loaded in memory.
        """
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> TestCA:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.cleanup()
