"""The service account: who the framework is, and the key that proves it.

A DC/OS service account secret is a JSON object with ``uid``, ``private_key``
(RSA, PEM), ``login_endpoint`` and ``scheme`` (``RS256``). Services find it
through ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``, which real packages set in three
forms: the JSON inline, a ``file://`` URL, or a bare (often sandbox-relative)
path. Some tools keep the pieces apart: a uid, a PEM file and an endpoint.

Every constructor leads to one private builder, and every problem becomes a
:class:`~mesos_auth.errors.CredentialError` that names the source and the field
and never quotes key material.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.errors import CredentialError, NoServiceAccountError

#: The variable DC/OS sets for a service with a service account secret.
CREDENTIAL_ENV = "DCOS_SERVICE_ACCOUNT_CREDENTIAL"
#: Our own variable for the passphrase of an encrypted private key.
PASSPHRASE_ENV = "MESOS_AUTH_KEY_PASSPHRASE"
#: The only signing scheme DC/OS uses for service accounts.
SUPPORTED_SCHEMES = ("RS256",)
REQUIRED_FIELDS = ("uid", "private_key", "login_endpoint")

Passphrase = Union[str, bytes, None]
PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True, eq=False)
class ServiceAccount:
    """A DC/OS service account: ``uid``, RSA ``private_key``, ``login_endpoint``.

    Immutable; ``with_login_endpoint`` returns a modified copy. ``repr`` and
    ``str`` show the uid and the endpoint, never the key.
    """

    uid: str
    private_key: rsa.RSAPrivateKey = field(repr=False)
    login_endpoint: str
    scheme: str = "RS256"
    source: str = field(default="arguments", compare=False)

    def __post_init__(self) -> None:
        _check_uid(self.uid, self.source)
        if not isinstance(self.private_key, rsa.RSAPrivateKey):
            raise CredentialError(
                f"the private key is a {type(self.private_key).__name__}, not an RSA key",
                source=self.source,
                field="private_key",
                fix="DC/OS service accounts sign with RS256: create an RSA key pair",
            )
        _check_endpoint(self.login_endpoint, self.source)
        _check_scheme(self.scheme, self.source)

    # -- constructors ------------------------------------------------------------

    @classmethod
    def from_info(
        cls, info: Mapping[str, Any], *, passphrase: Passphrase = None, source: str = "arguments"
    ) -> ServiceAccount:
        """Build from a parsed secret (the JSON object, as a mapping)."""
        if not isinstance(info, Mapping):
            raise CredentialError(
                f"expected a JSON object, got {type(info).__name__}",
                source=source,
                fix='the secret is {"uid": ..., "private_key": ..., "login_endpoint": ..., "scheme": "RS256"}',
            )
        missing = [name for name in REQUIRED_FIELDS if not info.get(name)]
        if missing:
            raise CredentialError(
                "missing or empty " + ", ".join(repr(name) for name in missing),
                source=source,
                fix=f"a service account secret needs {', '.join(REQUIRED_FIELDS)} (and scheme RS256)",
            )
        for name in (*REQUIRED_FIELDS, "scheme"):
            if name in info and not isinstance(info[name], str):
                raise CredentialError(f"must be a string, not {type(info[name]).__name__}", source=source, field=name)
        scheme = info.get("scheme") or "RS256"
        _check_scheme(scheme, source)
        key = load_private_key(info["private_key"], passphrase=passphrase, source=source)
        return cls(
            uid=info["uid"],
            private_key=key,
            login_endpoint=info["login_endpoint"],
            scheme=scheme,
            source=source,
        )

    @classmethod
    def from_json(cls, text: str, *, passphrase: Passphrase = None, source: str = "arguments") -> ServiceAccount:
        """Build from the secret's JSON text."""
        try:
            info = json.loads(text)
        except ValueError as exc:
            raise CredentialError(
                f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else "is not valid JSON",
                source=source,
                fix="check that the whole secret was copied, quotes and braces included",
            ) from None
        return cls.from_info(info, passphrase=passphrase, source=source)

    @classmethod
    def from_file(cls, path: PathLike, *, passphrase: Passphrase = None) -> ServiceAccount:
        """Build from a file holding the secret's JSON."""
        source = f"file {os.fspath(path)}"
        return cls.from_json(_read_text(path, source), passphrase=passphrase, source=source)

    @classmethod
    def from_key_file(
        cls,
        uid: str,
        private_key_file: PathLike,
        login_endpoint: str,
        *,
        passphrase: Passphrase = None,
        scheme: str = "RS256",
    ) -> ServiceAccount:
        """Build from separate pieces: a uid, a PEM private key file and the login endpoint."""
        source = f"key file {os.fspath(private_key_file)}"
        _check_uid(uid, source)
        pem = _read_text(private_key_file, source)
        key = load_private_key(pem, passphrase=passphrase, source=source)
        return cls(uid=uid, private_key=key, login_endpoint=login_endpoint, scheme=scheme, source=source)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, *, passphrase: Passphrase = None) -> ServiceAccount:
        """Build from ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``: inline JSON, ``file://`` URL or path.

        A relative path is looked for in the working directory, then in
        ``$MESOS_SANDBOX``. The key's passphrase may come from
        ``MESOS_AUTH_KEY_PASSPHRASE``. Raises :class:`NoServiceAccountError` when
        the variable is not set.
        """
        env = os.environ if environ is None else environ
        value = env.get(CREDENTIAL_ENV, "")
        if passphrase is None and env.get(PASSPHRASE_ENV):
            passphrase = env[PASSPHRASE_ENV]
        if not value.strip():
            raise NoServiceAccountError([f"${CREDENTIAL_ENV} (not set)"])
        stripped = value.strip()
        if stripped.startswith("{"):
            return cls.from_json(stripped, passphrase=passphrase, source=f"${CREDENTIAL_ENV} (inline JSON)")
        if stripped.startswith("file:"):
            parts = urlsplit(stripped)
            if parts.netloc not in ("", "localhost"):
                raise CredentialError(
                    f"file URL names host {parts.netloc!r}",
                    source=f"${CREDENTIAL_ENV}",
                    fix="use file:///absolute/path (three slashes) or a plain path",
                )
            path = unquote(parts.path)
            return cls._from_credential_path(path, passphrase, f"${CREDENTIAL_ENV} -> {path}", env)
        return cls._from_credential_path(stripped, passphrase, f"${CREDENTIAL_ENV} -> {stripped}", env)

    @classmethod
    def _from_credential_path(
        cls, path: str, passphrase: Passphrase, source: str, env: Mapping[str, str]
    ) -> ServiceAccount:
        candidates = [Path(path)]
        if not os.path.isabs(path) and env.get("MESOS_SANDBOX"):
            candidates.append(Path(env["MESOS_SANDBOX"]) / path)
        for candidate in candidates:
            if candidate.is_file():
                return cls.from_json(
                    _read_text(candidate, f"{source} ({candidate})"),
                    passphrase=passphrase,
                    source=f"{source} ({candidate})" if candidate != Path(path) else source,
                )
        looked = ", ".join(str(c.absolute()) for c in candidates)
        raise CredentialError(
            f"names a file that does not exist (looked at {looked})",
            source=source,
            fix=f"set {CREDENTIAL_ENV} to the secret's JSON, a file:// URL or the path of an existing file",
        )

    # -- derived values ----------------------------------------------------------

    def with_login_endpoint(self, login_endpoint: str) -> ServiceAccount:
        """A copy that logs in at another endpoint (e.g. a test IAM)."""
        return replace(self, login_endpoint=login_endpoint)

    def public_key_pem(self) -> str:
        """The public half, PEM (SubjectPublicKeyInfo): what the IAM holds."""
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def to_info(self) -> Dict[str, str]:
        """The secret as a JSON-ready dict, private key included (PKCS#8, unencrypted).

        Meant for writing a secret file with mode 0600; never log the result.
        """
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        return {"scheme": self.scheme, "uid": self.uid, "private_key": pem, "login_endpoint": self.login_endpoint}

    @property
    def key_size(self) -> int:
        return self.private_key.key_size

    def __str__(self) -> str:
        return f"service account {self.uid!r} (login at {self.login_endpoint})"


# --------------------------------------------------------------------------
# Checks and key loading
# --------------------------------------------------------------------------


def _check_uid(uid: Any, source: str) -> None:
    if not isinstance(uid, str) or not uid.strip():
        raise CredentialError("must be a non-empty string", source=source, field="uid")
    if uid != uid.strip() or any(ch.isspace() for ch in uid):
        raise CredentialError(
            "contains whitespace", source=source, field="uid", fix="service account names have no spaces"
        )


def _check_endpoint(endpoint: Any, source: str) -> None:
    if not isinstance(endpoint, str):
        raise CredentialError("must be a string", source=source, field="login_endpoint")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CredentialError(
            f"{endpoint!r} is not an http(s) URL",
            source=source,
            field="login_endpoint",
            fix="it looks like https://master.mesos/acs/api/v1/auth/login",
        )


def _check_scheme(scheme: str, source: str) -> None:
    if scheme not in SUPPORTED_SCHEMES:
        raise CredentialError(
            f"unsupported scheme {scheme!r}",
            source=source,
            field="scheme",
            fix="DC/OS service accounts use RS256",
        )


def _read_text(path: PathLike, source: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError("file not found", source=source) from None
    except IsADirectoryError:
        raise CredentialError("is a directory, not a file", source=source) from None
    except PermissionError:
        raise CredentialError(
            "permission denied", source=source, fix="make it readable by the user the framework runs as"
        ) from None
    except UnicodeDecodeError:
        raise CredentialError("is not UTF-8 text", source=source) from None
    except OSError as exc:
        raise CredentialError(f"cannot be read ({exc.strerror})", source=source) from None


def load_private_key(pem: Union[str, bytes], *, passphrase: Passphrase = None, source: str) -> rsa.RSAPrivateKey:
    """Parse an RSA private key, PKCS#1 or PKCS#8 PEM, encrypted or not.

    Errors say what is wrong with the key (not PEM, a public key, encrypted,
    wrong passphrase, not RSA) without ever quoting it.
    """
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase

    def fail(problem: str, fix: str = "") -> CredentialError:
        return CredentialError(problem, source=source, field="private_key", fix=fix)

    if b"-----BEGIN" not in data:
        if b"\\n" in data:
            raise fail(
                "is not PEM: its line breaks are written as the two characters \\n",
                "the JSON was escaped twice; store real newlines (a single \\n in the JSON string)",
            )
        raise fail("is not a PEM private key", "paste the whole key, from -----BEGIN to -----END")
    if b"PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise fail("holds a public key", "the secret needs the private key; the IAM holds the public one")
    if b"-----BEGIN CERTIFICATE" in data and b"PRIVATE KEY-----" not in data:
        raise fail("holds a certificate", "the secret needs the account's private key")
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as exc:
        text = str(exc)
        if "not encrypted" in text:
            key = serialization.load_pem_private_key(data, password=None)
        elif "encrypted" in text:
            raise fail(
                "is encrypted and no passphrase was given",
                f"pass passphrase=... or set {PASSPHRASE_ENV}",
            ) from None
        else:
            raise fail("could not be loaded") from None
    except ValueError:
        if password is not None and b"ENCRYPTED" in data:
            raise fail("could not be decrypted: the passphrase is wrong") from None
        raise fail(
            "could not be parsed: the PEM is damaged or truncated",
            "copy the key again, keeping every line between -----BEGIN and -----END",
        ) from None
    except Exception:  # cryptography raises assorted errors on unsupported formats
        raise fail("could not be parsed (unsupported format)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise fail(f"is {_key_kind(key)} key, not RSA", "DC/OS service accounts sign with RS256: use an RSA key pair")
    return key


def _key_kind(key: object) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519

    kinds = (
        (ec.EllipticCurvePrivateKey, "an EC"),
        (ed25519.Ed25519PrivateKey, "an Ed25519"),
        (ed448.Ed448PrivateKey, "an Ed448"),
        (dsa.DSAPrivateKey, "a DSA"),
    )
    for kind, name in kinds:
        if isinstance(key, kind):
            return name
    return "a non-RSA"
