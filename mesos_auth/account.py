"""The service account: who the framework is, and the key that proves it.

A DC/OS service account secret is a JSON object with ``uid``, ``private_key``
(RSA, PEM), ``login_endpoint`` and ``scheme`` (``RS256``). Services find it
through ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``, which real packages set in three
forms: the JSON inline, a ``file://`` URL, or a bare (often sandbox-relative)
path. Some tools keep the pieces apart: a uid, a PEM file and an endpoint.

Every constructor leads to one private builder, and every problem becomes a
:class:`~mesos_auth.errors.CredentialError` that names the source and the field
and never quotes key material. A value that is neither JSON nor a plausible path
(a pasted PEM key, JSON quoted twice, a value too long for a path) is described by
:func:`describe_value`, never quoted: it may be the key itself.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, NoReturn, Optional, Union
from urllib.parse import unquote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth._redact import CONTROL_CHARACTERS, safe_url, server_text
from mesos_auth.errors import CredentialError, NoServiceAccountError, WeakKeyError

#: The variable DC/OS sets for a service with a service account secret.
CREDENTIAL_ENV = "DCOS_SERVICE_ACCOUNT_CREDENTIAL"
#: Our own variable for the passphrase of an encrypted private key.
PASSPHRASE_ENV = "MESOS_AUTH_KEY_PASSPHRASE"
#: The only signing scheme DC/OS uses for service accounts.
SUPPORTED_SCHEMES = ("RS256",)
REQUIRED_FIELDS = ("uid", "private_key", "login_endpoint")
#: Shorter RSA keys are refused (NIST SP 800-131A; DC/OS makes 2048-bit keys).
MIN_KEY_SIZE = 2048

# What the IAM accepts as a uid, from dcos/bouncer, bouncer/app/models/user.py,
# User._validate_uid: regexp [a-zA-Z0-9-_@\.]+, at most 96 characters, and not
# "anonymous" (reserved). Bouncer uses match(...$), which lets a trailing newline
# through; we use fullmatch and refuse it.
UID_PATTERN = re.compile(r"[a-zA-Z0-9_@.-]+")
UID_MAX_LENGTH = 96
RESERVED_UIDS = ("anonymous",)
UID_RULE = (
    f"a uid has 1 to {UID_MAX_LENGTH} characters, each a letter, a digit, '-', '_', '@' or '.', and is not 'anonymous'"
)

#: Longest value taken for a path, and longest name between its slashes (Linux's PATH_MAX, NAME_MAX).
MAX_PATH_LENGTH = 4096
MAX_NAME_LENGTH = 255
#: Largest secret or key file read: a secret is a few kilobytes, so anything bigger is not one.
MAX_SECRET_FILE_SIZE = 1 << 20
#: What makes a value no path: C0 and C1 controls, DEL, line and paragraph separators, bidi controls,
#: lone surrogates (they cannot be encoded for the file system).
_CONTROL = re.compile(
    f"[{CONTROL_CHARACTERS}"
    # Lone surrogates, but for U+DC80-U+DCFF: how Python spells a path's non-UTF-8 bytes.
    "\ud800-\udc7f\udd00-\udfff]"
)
_BOM = "\ufeff"
#: The forms a secret value may take, for the fixes of the errors about one.
VALUE_FORMS = "the secret's JSON, a file:// URL or the path of a file holding it"

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
        if self.private_key.key_size < MIN_KEY_SIZE:
            raise WeakKeyError(self.private_key.key_size, source=self.source, minimum=MIN_KEY_SIZE)
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
        """Build from the secret's JSON text (one leading byte-order mark is ignored)."""
        try:
            info = json.loads(_without_bom(text))
        except ValueError as exc:
            raise CredentialError(
                f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
                if isinstance(exc, json.JSONDecodeError)
                else "is not valid JSON",
                source=source,
                fix="check that the whole secret was copied, quotes and braces included",
            ) from None
        except RecursionError:  # a hostile nesting of brackets
            raise CredentialError("is not valid JSON (nested too deeply)", source=source) from None
        return cls.from_info(info, passphrase=passphrase, source=source)

    @classmethod
    def from_file(cls, path: PathLike, *, passphrase: Passphrase = None) -> ServiceAccount:
        """Build from a file holding the secret's JSON (at most 1 MiB, UTF-8, a BOM allowed)."""
        text_path = os.fspath(path)
        refuse_unless_path(text_path, "ServiceAccount.from_file()", json_taken=False)
        source = f"file {text_path}"
        return cls.from_json(_read_text(text_path, source), passphrase=passphrase, source=source)

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
        text_path = os.fspath(private_key_file)
        refuse_unless_path(
            text_path,
            "ServiceAccount.from_key_file()",
            field="private_key_file",
            fix="give the path of the PEM file that holds the key",
            pem_hint="the key itself, not its file's path",
            json_taken=False,
        )
        source = f"key file {text_path}"
        _check_uid(uid, source)
        pem = _read_text(text_path, source, what="key file")
        key = load_private_key(pem, passphrase=passphrase, source=source)
        return cls(uid=uid, private_key=key, login_endpoint=login_endpoint, scheme=scheme, source=source)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, *, passphrase: Passphrase = None) -> ServiceAccount:
        """Build from ``DCOS_SERVICE_ACCOUNT_CREDENTIAL``: inline JSON, ``file://`` URL or path.

        A relative path is looked for in the working directory, then in
        ``$MESOS_SANDBOX``. The key's passphrase may come from
        ``MESOS_AUTH_KEY_PASSPHRASE``. Raises :class:`NoServiceAccountError` when
        the variable is not set. A value that is neither JSON nor a plausible path
        is refused before the file system is asked, and described, not quoted.
        """
        env = os.environ if environ is None else environ
        value = env.get(CREDENTIAL_ENV, "")
        if passphrase is None and env.get(PASSPHRASE_ENV):
            passphrase = env[PASSPHRASE_ENV]
        if not value.strip():
            raise NoServiceAccountError([f"${CREDENTIAL_ENV} (not set)"])
        stripped = value.strip()
        if looks_like_json(stripped):
            return cls.from_json(stripped, passphrase=passphrase, source=f"${CREDENTIAL_ENV} (inline JSON)")
        refuse_unless_path(stripped, f"${CREDENTIAL_ENV}", fix=f"set {CREDENTIAL_ENV} to {VALUE_FORMS}")
        if stripped.startswith("file:"):
            path = _file_url_path(stripped)
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
            if _is_file(candidate):
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
    """Refuse a uid the IAM could never hold (see ``UID_PATTERN``); shown escaped, never raw."""
    if not isinstance(uid, str) or not uid.strip():
        raise CredentialError("must be a non-empty string", source=source, field="uid")
    if uid != uid.strip() or any(ch.isspace() for ch in uid):
        raise CredentialError(
            "contains whitespace", source=source, field="uid", fix="service account names have no spaces"
        )
    if len(uid) > UID_MAX_LENGTH:
        problem = f"is {len(uid)} characters long, more than the IAM allows"
    elif uid in RESERVED_UIDS:
        problem = f"{uid!r} is reserved by the IAM"
    elif not UID_PATTERN.fullmatch(uid):
        problem = f"'{_shown(uid, 100)}' holds characters the IAM does not allow"
    else:
        return
    raise CredentialError(problem, source=source, field="uid", fix=f"use the account's uid: {UID_RULE}")


def _check_endpoint(endpoint: Any, source: str) -> None:
    if not isinstance(endpoint, str):
        raise CredentialError("must be a string", source=source, field="login_endpoint")
    if _is_http_url(endpoint):
        return
    problem = path_problem(endpoint, pem_hint="the login endpoint is a URL")
    raise CredentialError(
        f"{problem or repr(_shown(safe_url(endpoint), 200))} is not an http(s) URL",
        source=source,
        field="login_endpoint",
        fix="it looks like https://master.mesos/acs/api/v1/auth/login",
    )


def _is_http_url(value: str) -> bool:
    if _CONTROL.search(value):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an invalid IPv6 literal
        return False


def _check_scheme(scheme: str, source: str) -> None:
    if scheme not in SUPPORTED_SCHEMES:
        raise CredentialError(
            f"unsupported scheme {describe_value(scheme, pem_hint='the scheme is RS256', limit=40)}",
            source=source,
            field="scheme",
            fix="DC/OS service accounts use RS256",
        )


# --------------------------------------------------------------------------
# Values that may be a path, or may be the secret itself
# --------------------------------------------------------------------------


def path_problem(value: str, *, pem_hint: str = "give the secret JSON, not the key") -> Optional[str]:
    """Why ``value`` cannot be a file path, said without quoting it; None when it may be one.

    A value that is not a plausible path may be key material pasted in the wrong
    place (``--secret "$(cat key.pem)"``), so it is described, never shown. The
    length limits also keep the file system from answering ENAMETOOLONG.
    """
    if value.startswith(("'", '"')):
        return "a value that starts with a quote (was the JSON quoted twice?)"
    if value.startswith(_BOM):
        return "a value that starts with a byte-order mark"
    if "-----BEGIN" in value:
        kind = "a PEM private key" if "PRIVATE KEY-----" in value else "PEM data"
        return f"a value of {len(value)} characters that holds {kind} ({pem_hint})"
    if _CONTROL.search(value):
        return f"a value of {len(value)} characters with line breaks or control characters"
    if len(value) > MAX_PATH_LENGTH:
        return f"a value of {len(value)} characters, too long for a path"
    longest = max(len(name) for name in value.split("/"))
    if longest > MAX_NAME_LENGTH:
        return f"a value with a name of {longest} characters between slashes, too long for a path"
    return None


def describe_value(value: str, *, pem_hint: str = "give the secret JSON, not the key", limit: int = 300) -> str:
    """``value`` as a message may name it: quoted when it is a plausible path, else described."""
    problem = path_problem(value, pem_hint=pem_hint)
    return problem if problem is not None else repr(_shown(value, limit))


def _shown(text: str, limit: int) -> str:
    """``text`` fit for a message (:func:`server_text`), lone surrogates escaped so that it prints anywhere."""
    return server_text(text, limit).encode("utf-8", "backslashreplace").decode("utf-8")


def refuse_unless_path(
    value: str,
    source: str,
    *,
    field: Optional[str] = None,
    fix: str = f"give {VALUE_FORMS}",
    pem_hint: str = "give the secret JSON, not the key",
    json_taken: bool = True,
) -> None:
    """Raise :class:`CredentialError` describing ``value`` unless it may be a path: the file system is not asked.

    ``json_taken``: whether the value could have been JSON too (then the error says it is neither).
    """
    problem = path_problem(value, pem_hint=pem_hint)
    if problem is not None:
        what = "not JSON, and not a path" if json_taken else "not a path"
        raise CredentialError(f"is {what}: it is {problem}", source=source, field=field, fix=fix)


def looks_like_json(value: str) -> bool:
    """Whether ``value`` is meant as the secret's JSON: ``{`` first, after one byte-order mark."""
    return _without_bom(value).lstrip().startswith("{")


def _without_bom(text: str) -> str:
    """``text`` without one leading byte-order mark (Windows editors write one before JSON)."""
    return text[1:] if text.startswith(_BOM) else text


def _file_url_path(url: str) -> str:
    """The local path of a ``file:`` URL, itself checked as a path once decoded."""
    source = f"${CREDENTIAL_ENV}"
    fix = "use file:///absolute/path (three slashes) or a plain path"
    try:
        parts = urlsplit(url)
    except ValueError:
        raise CredentialError("is not a valid file URL", source=source, fix=fix) from None
    if parts.netloc not in ("", "localhost"):
        raise CredentialError(f"file URL names host {_shown(parts.netloc, 100)!r}", source=source, fix=fix)
    path = unquote(parts.path)
    refuse_unless_path(path, source, fix=fix, json_taken=False)
    return path


def _is_file(path: Path) -> bool:
    """``path.is_file()``, but False (not OSError) for a name the file system refuses."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read_text(path: PathLike, source: str, what: str = "secret file") -> str:
    """The file's text, refused unread when over ``MAX_SECRET_FILE_SIZE``; UTF-8, a BOM allowed."""
    limit = MAX_SECRET_FILE_SIZE

    def too_large(size: Optional[int]) -> NoReturn:
        said = f"{size} bytes, more than" if size is not None else "more than"
        raise CredentialError(
            f"is {said} the {limit} bytes (1 MiB) a {what} may be",
            source=source,
            fix=f"a {what} holds a few kilobytes: check that the path names the right file",
        )

    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limit:
                too_large(size)
            data = handle.read(limit + 1)  # a pipe or a device has no size: read one byte past the limit
    except FileNotFoundError:
        raise _not_found(Path(path), source, what) from None
    except IsADirectoryError:
        raise CredentialError("is a directory, not a file", source=source) from None
    except PermissionError:
        raise CredentialError(
            "permission denied", source=source, fix="make it readable by the user the framework runs as"
        ) from None
    except OSError as exc:
        raise CredentialError(f"cannot be read ({exc.strerror})", source=source) from None
    if len(data) > limit:
        too_large(None)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CredentialError("is not UTF-8 text", source=source) from None


def _not_found(path: Path, source: str, what: str) -> CredentialError:
    """File not found, with what to do: where a relative path was looked for, and the other forms."""
    where = "" if path.is_absolute() else f" (looked at {path.absolute()})"
    instead = "the path of the PEM file" if what == "key file" else VALUE_FORMS
    return CredentialError(
        f"file not found{where}",
        source=source,
        fix=f"check the path (a relative one starts from the working directory), or give {instead}",
    )


def load_private_key(pem: Union[str, bytes], *, passphrase: Passphrase = None, source: str) -> rsa.RSAPrivateKey:
    """Parse an RSA private key, PKCS#1 or PKCS#8 PEM, encrypted or not.

    Errors say what is wrong with the key (not PEM, a public key, encrypted,
    wrong passphrase, not RSA) without ever quoting it.
    """

    def fail(problem: str, fix: str = "") -> CredentialError:
        return CredentialError(problem, source=source, field="private_key", fix=fix)

    try:
        data = pem.encode("utf-8") if isinstance(pem, str) else pem
    except UnicodeEncodeError:  # a lone surrogate, from a JSON "\\ud800" escape
        raise fail("is not a PEM private key (it holds characters that are not text)") from None
    try:
        password = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    except UnicodeEncodeError:
        raise fail("could not be decrypted: the passphrase holds characters that are not text") from None

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
