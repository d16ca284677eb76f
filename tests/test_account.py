"""ServiceAccount: every form of the secret, and a clear error for each malformed one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from mesos_auth import CredentialError, NoServiceAccountError, ServiceAccount
from mesos_auth.account import CREDENTIAL_ENV, PASSPHRASE_ENV
from tests.conftest import LOGIN_ENDPOINT, pem


def assert_no_key_material(text: str, info: dict) -> None:
    body = info["private_key"].splitlines()[1]
    assert body not in text
    assert "PRIVATE KEY" not in text


# -- the good forms -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1"])
def test_from_info_accepts_pkcs1_and_pkcs8(rsa_key, secret_info, fmt) -> None:
    secret_info["private_key"] = pem(rsa_key, fmt)
    account = ServiceAccount.from_info(secret_info)
    assert account.uid == "my-framework"
    assert account.login_endpoint == LOGIN_ENDPOINT
    assert account.scheme == "RS256"
    assert account.private_key.private_numbers() == rsa_key.private_numbers()


def test_scheme_defaults_to_rs256_when_absent(secret_info) -> None:
    del secret_info["scheme"]
    assert ServiceAccount.from_info(secret_info).scheme == "RS256"


@pytest.mark.parametrize("passphrase", ["s3cret", b"s3cret"])
def test_encrypted_key_with_passphrase(rsa_key, secret_info, passphrase) -> None:
    secret_info["private_key"] = pem(rsa_key, passphrase=b"s3cret")
    account = ServiceAccount.from_info(secret_info, passphrase=passphrase)
    assert account.private_key.private_numbers() == rsa_key.private_numbers()


def test_passphrase_given_for_a_plain_key_is_harmless(secret_info) -> None:
    assert ServiceAccount.from_info(secret_info, passphrase="unused").uid == "my-framework"


def test_from_file(secret_info, write_secret) -> None:
    path = write_secret(secret_info)
    account = ServiceAccount.from_file(path)
    assert account.uid == "my-framework"
    assert str(path) in account.source


def test_from_key_file(rsa_key, tmp_path) -> None:
    key_file = tmp_path / "private.pem"
    key_file.write_text(pem(rsa_key, "pkcs1"))
    account = ServiceAccount.from_key_file("pieces", key_file, "http://leader.mesos/acs/api/v1/auth/login")
    assert account.uid == "pieces"
    assert account.login_endpoint.startswith("http://")


def test_from_env_inline_json(secret_info) -> None:
    account = ServiceAccount.from_env({CREDENTIAL_ENV: json.dumps(secret_info)})
    assert account.uid == "my-framework"
    assert "inline JSON" in account.source


def test_from_env_file_url(secret_info, write_secret) -> None:
    path = write_secret(secret_info)
    account = ServiceAccount.from_env({CREDENTIAL_ENV: path.absolute().as_uri()})
    assert account.uid == "my-framework"


def test_from_env_relative_path_in_the_sandbox(secret_info, tmp_path, monkeypatch) -> None:
    sandbox = tmp_path / "sandbox"
    (sandbox / "secrets").mkdir(parents=True)
    (sandbox / "secrets" / "service-account.json").write_text(json.dumps(secret_info))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    environ = {CREDENTIAL_ENV: "secrets/service-account.json", "MESOS_SANDBOX": str(sandbox)}
    assert ServiceAccount.from_env(environ).uid == "my-framework"


def test_from_env_relative_path_in_the_working_directory(secret_info, tmp_path, monkeypatch) -> None:
    (tmp_path / "sa.json").write_text(json.dumps(secret_info))
    monkeypatch.chdir(tmp_path)
    assert ServiceAccount.from_env({CREDENTIAL_ENV: "sa.json"}).uid == "my-framework"


def test_from_env_reads_the_passphrase_variable(rsa_key, secret_info) -> None:
    secret_info["private_key"] = pem(rsa_key, passphrase=b"pw")
    environ = {CREDENTIAL_ENV: json.dumps(secret_info), PASSPHRASE_ENV: "pw"}
    assert ServiceAccount.from_env(environ).uid == "my-framework"


def test_from_env_unset_lists_where_it_looked() -> None:
    with pytest.raises(NoServiceAccountError, match=CREDENTIAL_ENV) as caught:
        ServiceAccount.from_env({})
    assert caught.value.tried


# -- immutability, repr, helpers ------------------------------------------------------


def test_repr_and_str_never_show_the_key(secret_info) -> None:
    account = ServiceAccount.from_info(secret_info)
    for text in (repr(account), str(account)):
        assert "my-framework" in text
        assert_no_key_material(text, secret_info)
        assert "RSAPrivateKey" not in text


def test_account_is_immutable(account) -> None:
    with pytest.raises(AttributeError):
        account.uid = "other"  # type: ignore[misc]


def test_with_login_endpoint_returns_a_copy(account) -> None:
    moved = account.with_login_endpoint("https://127.0.0.1:1/acs/api/v1/auth/login")
    assert moved.login_endpoint.startswith("https://127.0.0.1")
    assert account.login_endpoint == LOGIN_ENDPOINT
    assert moved.private_key is account.private_key


def test_to_info_round_trips(account) -> None:
    again = ServiceAccount.from_info(account.to_info())
    assert again.uid == account.uid
    assert again.private_key.private_numbers() == account.private_key.private_numbers()


def test_public_key_pem(account) -> None:
    public = serialization.load_pem_public_key(account.public_key_pem().encode())
    assert public.public_numbers() == account.private_key.public_key().public_numbers()


# -- each malformed secret gets its own clear error ------------------------------------


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


MALFORMED = {
    "missing uid": (lambda i: i.pop("uid"), "missing or empty 'uid'"),
    "empty uid": (lambda i: i.update(uid=""), "missing or empty 'uid'"),
    "missing key": (lambda i: i.pop("private_key"), "missing or empty 'private_key'"),
    "missing endpoint": (lambda i: i.pop("login_endpoint"), "missing or empty 'login_endpoint'"),
    "uid not a string": (lambda i: i.update(uid=42), "field 'uid': must be a string, not int"),
    "uid with spaces": (lambda i: i.update(uid="my framework"), "field 'uid': contains whitespace"),
    "unknown scheme": (lambda i: i.update(scheme="HS256"), "field 'scheme': unsupported scheme 'HS256'"),
    "endpoint not a url": (lambda i: i.update(login_endpoint="master.mesos"), "is not an http(s) URL"),
    "endpoint ftp": (lambda i: i.update(login_endpoint="ftp://x/acs"), "is not an http(s) URL"),
    "key not pem": (lambda i: i.update(private_key="MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), "is not a PEM private key"),
    "key double escaped": (
        lambda i: i.update(private_key=i["private_key"].replace("\n", "\\n").replace("-----BEGIN", "BEGIN")),
        "line breaks are written as the two characters",
    ),
    "key truncated": (
        lambda i: i.update(private_key=i["private_key"][:200] + "\n-----END PRIVATE KEY-----\n"),
        "damaged or truncated",
    ),
    "public key": (lambda i: i.update(private_key=_public_pem(i)), "holds a public key"),
    "ec key": (lambda i: i.update(private_key=_ec_pem()), "is an EC key, not RSA"),
    "ed25519 key": (lambda i: i.update(private_key=_ed25519_pem()), "is an Ed25519 key, not RSA"),
}


def _public_pem(info: dict) -> str:
    key = serialization.load_pem_private_key(info["private_key"].encode(), None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_each_malformed_secret_has_its_own_error(secret_info, case) -> None:
    original = dict(secret_info)
    change, expected = MALFORMED[case]
    change(secret_info)
    with pytest.raises(CredentialError) as caught:
        ServiceAccount.from_info(secret_info)
    message = str(caught.value)
    assert expected in message
    assert isinstance(caught.value, ValueError)
    assert caught.value.source == "arguments"
    assert_no_key_material(message, original)
    assert caught.value.__cause__ is None or "PRIVATE" not in str(caught.value.__cause__)


def test_encrypted_key_without_passphrase(rsa_key, secret_info) -> None:
    secret_info["private_key"] = pem(rsa_key, passphrase=b"pw")
    with pytest.raises(CredentialError, match=f"encrypted and no passphrase was given.*{PASSPHRASE_ENV}"):
        ServiceAccount.from_info(secret_info)


def test_encrypted_key_with_wrong_passphrase(rsa_key, secret_info) -> None:
    secret_info["private_key"] = pem(rsa_key, passphrase=b"pw")
    with pytest.raises(CredentialError, match="passphrase is wrong"):
        ServiceAccount.from_info(secret_info, passphrase="nope")


def test_secret_that_is_not_an_object(write_secret) -> None:
    with pytest.raises(CredentialError, match="expected a JSON object, got list"):
        ServiceAccount.from_file(write_secret("[1, 2]"))


def test_secret_that_is_not_json_names_line_and_column(write_secret) -> None:
    path = write_secret('{"uid": "x",\n  "private_key": }')
    with pytest.raises(CredentialError, match=r"is not valid JSON \(line 2, column") as caught:
        ServiceAccount.from_file(path)
    assert str(path) in str(caught.value)


def test_secret_file_missing(tmp_path) -> None:
    with pytest.raises(CredentialError, match="file not found"):
        ServiceAccount.from_file(tmp_path / "nope.json")


def test_secret_file_is_a_directory(tmp_path) -> None:
    with pytest.raises(CredentialError, match="is a directory"):
        ServiceAccount.from_file(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_secret_file_unreadable(secret_info, write_secret) -> None:  # pragma: no cover - not as root
    path = write_secret(secret_info)
    path.chmod(0)
    with pytest.raises(CredentialError, match="permission denied"):
        ServiceAccount.from_file(path)


def test_secret_file_not_utf8(tmp_path) -> None:
    path = tmp_path / "secret.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(CredentialError, match="not UTF-8"):
        ServiceAccount.from_file(path)


def test_from_env_path_that_does_not_exist_says_where_it_looked(tmp_path) -> None:
    environ = {CREDENTIAL_ENV: "secrets/none.json", "MESOS_SANDBOX": str(tmp_path)}
    with pytest.raises(CredentialError, match="does not exist") as caught:
        ServiceAccount.from_env(environ)
    assert str(tmp_path / "secrets" / "none.json") in str(caught.value)


def test_from_env_file_url_with_a_host_is_refused() -> None:
    with pytest.raises(CredentialError, match="names host"):
        ServiceAccount.from_env({CREDENTIAL_ENV: "file://server/secret.json"})


def test_from_env_bad_inline_json_names_the_variable() -> None:
    with pytest.raises(CredentialError, match=f"\\${CREDENTIAL_ENV} \\(inline JSON\\).*not valid JSON"):
        ServiceAccount.from_env({CREDENTIAL_ENV: '{"uid": '})


def test_constructor_refuses_a_non_rsa_key() -> None:
    with pytest.raises(CredentialError, match="not an RSA key"):
        ServiceAccount(uid="x", private_key=ec.generate_private_key(ec.SECP256R1()), login_endpoint=LOGIN_ENDPOINT)  # type: ignore[arg-type]


def test_key_file_errors_name_the_file(tmp_path: Path) -> None:
    key_file = tmp_path / "k.pem"
    key_file.write_text("nonsense")
    with pytest.raises(CredentialError, match=f"key file {key_file}, field 'private_key'"):
        ServiceAccount.from_key_file("x", key_file, LOGIN_ENDPOINT)
