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


# -- uids the IAM could never hold -------------------------------------------------------
# The IAM's rule (dcos/bouncer, bouncer/app/models/user.py, User._validate_uid):
# letters, digits, '-', '_', '@', '.'; at most 96 characters; not "anonymous".


@pytest.mark.parametrize("uid", ["a", "my-framework", "svc_1@team.example", "A" * 96, "-._@"])
def test_uids_the_iam_accepts(rsa_key, uid) -> None:
    assert ServiceAccount(uid=uid, private_key=rsa_key, login_endpoint=LOGIN_ENDPOINT).uid == uid


@pytest.mark.parametrize(
    ("uid", "said"),
    [
        ("team/framework", "'team/framework' holds characters the IAM does not allow"),
        ("caf\u00e9", "holds characters the IAM does not allow"),
        ("a:b", "'a:b' holds characters the IAM does not allow"),
        ("svc\n", "contains whitespace"),
        ("anonymous", "'anonymous' is reserved by the IAM"),
        ("a" * 97, "is 97 characters long, more than the IAM allows"),
    ],
)
def test_uids_the_iam_refuses_are_refused_by_every_constructor(rsa_key, tmp_path, uid, said) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(rsa_key))
    info = {"uid": uid, "private_key": pem(rsa_key), "login_endpoint": LOGIN_ENDPOINT}
    attempts = [
        lambda: ServiceAccount(uid=uid, private_key=rsa_key, login_endpoint=LOGIN_ENDPOINT),
        lambda: ServiceAccount.from_info(info),
        lambda: ServiceAccount.from_json(json.dumps(info)),
        lambda: ServiceAccount.from_key_file(uid, key_file, LOGIN_ENDPOINT),
    ]
    for attempt in attempts:
        with pytest.raises(CredentialError, match="field 'uid'") as caught:
            attempt()
        assert said in str(caught.value)
        if "whitespace" not in said:
            assert "1 to 96 characters, each a letter, a digit, '-', '_', '@' or '.'" in caught.value.fix


def test_a_uid_with_control_characters_is_shown_escaped(rsa_key) -> None:
    with pytest.raises(CredentialError) as caught:
        ServiceAccount(uid="x\x1b[31m\x07", private_key=rsa_key, login_endpoint=LOGIN_ENDPOINT)
    message = str(caught.value)
    assert "'x\\x1b[31m\\x07'" in message
    assert "\x1b" not in message and "\x07" not in message


# -- weak keys ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weak_key():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - weak on purpose


def test_a_key_under_2048_bits_is_refused_by_every_constructor(weak_key, tmp_path) -> None:
    from mesos_auth.errors import WeakKeyError

    key_file = tmp_path / "weak.pem"
    key_file.write_text(pem(weak_key))
    info = {"uid": "svc", "private_key": pem(weak_key), "login_endpoint": LOGIN_ENDPOINT}
    attempts = [
        lambda: ServiceAccount(uid="svc", private_key=weak_key, login_endpoint=LOGIN_ENDPOINT),
        lambda: ServiceAccount.from_info(info),
        lambda: ServiceAccount.from_env({CREDENTIAL_ENV: json.dumps(info)}),
        lambda: ServiceAccount.from_key_file("svc", key_file, LOGIN_ENDPOINT),
    ]
    for attempt in attempts:
        with pytest.raises(WeakKeyError) as caught:
            attempt()
        assert caught.value.bits == 1024
        assert "is a 1024-bit RSA key; at least 2048 bits are required" in str(caught.value)
        assert "mesos-auth keypair" in str(caught.value)
        assert_no_key_material(str(caught.value), info)


# -- byte-order marks -----------------------------------------------------------------


def test_a_bom_before_the_json_is_accepted_in_a_file_and_in_the_variable(secret_info, tmp_path) -> None:
    path = tmp_path / "secret.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(secret_info).encode())
    assert ServiceAccount.from_file(path).uid == "my-framework"
    assert ServiceAccount.from_env({CREDENTIAL_ENV: str(path)}).uid == "my-framework"
    assert ServiceAccount.from_env({CREDENTIAL_ENV: "\ufeff" + json.dumps(secret_info)}).uid == "my-framework"
    assert ServiceAccount.from_json("\ufeff" + json.dumps(secret_info)).uid == "my-framework"


def test_a_bom_before_a_path_is_described(secret_info, write_secret) -> None:
    path = write_secret(secret_info)
    with pytest.raises(CredentialError, match="a value that starts with a byte-order mark") as caught:
        ServiceAccount.from_env({CREDENTIAL_ENV: "\ufeff" + str(path)})
    assert str(path) not in str(caught.value)


# -- values that are not paths, and paths that are too long ----------------------------


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("a" * 5000, "a value of 5000 characters, too long for a path"),
        ("/tmp/" + "b" * 300 + "/secret.json", "a value with a name of 300 characters between slashes"),
        ("secrets/one\ntwo.json", "a value of 20 characters with line breaks or control characters"),
        ('\'{"uid": "x"}\'', "a value that starts with a quote (was the JSON quoted twice?)"),
    ],
)
def test_values_that_cannot_be_paths_are_refused_before_the_file_system_is_asked(value, said, mocker) -> None:
    stat = mocker.spy(os, "stat")
    for attempt in (
        lambda: ServiceAccount.from_env({CREDENTIAL_ENV: value}),
        lambda: ServiceAccount.from_file(value),
    ):
        with pytest.raises(CredentialError) as caught:
            attempt()
        assert said in str(caught.value)
        assert value not in str(caught.value)
    assert stat.call_count == 0


def test_a_path_of_exactly_the_limits_is_looked_up(tmp_path) -> None:
    name = "n" * 255
    with pytest.raises(CredentialError, match="names a file that does not exist"):
        ServiceAccount.from_env({CREDENTIAL_ENV: str(tmp_path / name)})


def test_a_too_long_path_never_raises_oserror(tmp_path) -> None:
    # Within our limits by characters, beyond the OS's by bytes: still a CredentialError.
    long = "/".join(["\u00e9" * 200] * 10)
    for attempt in (
        lambda: ServiceAccount.from_env({CREDENTIAL_ENV: long}),
        lambda: ServiceAccount.from_env({CREDENTIAL_ENV: "rel/" + "x" * 250, "MESOS_SANDBOX": "/" + "s" * 4000}),
        lambda: ServiceAccount.from_file(long),
        lambda: ServiceAccount.from_key_file("svc", long, LOGIN_ENDPOINT),
    ):
        with pytest.raises(CredentialError):
            attempt()


def test_a_file_url_is_checked_once_decoded() -> None:
    with pytest.raises(CredentialError, match="line breaks or control characters"):
        ServiceAccount.from_env({CREDENTIAL_ENV: "file:///secrets/a%0Ab.json"})
    with pytest.raises(CredentialError, match="is not a valid file URL"):
        ServiceAccount.from_env({CREDENTIAL_ENV: "file://[::1/secret.json"})


def test_the_key_file_path_given_the_key_itself_is_described(rsa_key) -> None:
    key_pem = pem(rsa_key)
    with pytest.raises(CredentialError) as caught:
        ServiceAccount.from_key_file("svc", key_pem, LOGIN_ENDPOINT)
    message = str(caught.value)
    assert "field 'private_key_file': is not a path: it is a value of" in message
    assert "holds a PEM private key" in message
    assert_no_key_material(message, {"private_key": key_pem})


@pytest.mark.parametrize("field", ["login_endpoint", "scheme"])
def test_a_key_pasted_into_another_field_is_not_echoed(secret_info, field) -> None:
    original = dict(secret_info)
    secret_info[field] = secret_info["private_key"]
    with pytest.raises(CredentialError, match=f"field '{field}'") as caught:
        ServiceAccount.from_info(secret_info)
    assert "holds a PEM private key" in str(caught.value)
    assert_no_key_material(str(caught.value), original)


def test_an_endpoint_with_a_password_is_shown_without_it(rsa_key) -> None:
    with pytest.raises(CredentialError, match="is not an http") as caught:
        ServiceAccount(uid="svc", private_key=rsa_key, login_endpoint="ftp://user:hunter2@master/login")
    assert "hunter2" not in str(caught.value)


# -- size limits ----------------------------------------------------------------------


def test_a_secret_file_over_1_mib_is_refused_unread(tmp_path, mocker) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as handle:
        handle.truncate(1 << 30)  # sparse: a gigabyte that costs nothing unless read
    read = mocker.spy(ServiceAccount, "from_json")
    with pytest.raises(CredentialError, match=r"is 1073741824 bytes, more than the 1048576 bytes \(1 MiB\)"):
        ServiceAccount.from_file(path)
    with pytest.raises(CredentialError, match="more than the 1048576 bytes"):
        ServiceAccount.from_env({CREDENTIAL_ENV: str(path)})
    assert read.call_count == 0


def test_a_key_file_over_1_mib_is_refused(tmp_path) -> None:
    path = tmp_path / "huge.pem"
    with path.open("wb") as handle:
        handle.truncate((1 << 20) + 1)
    with pytest.raises(CredentialError, match=r"is 1048577 bytes, more than the 1048576 bytes \(1 MiB\) a key file"):
        ServiceAccount.from_key_file("svc", path, LOGIN_ENDPOINT)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_an_endless_stream_is_read_no_further_than_the_limit() -> None:
    with pytest.raises(CredentialError, match="is more than the 1048576 bytes"):
        ServiceAccount.from_file("/dev/zero")


def test_a_secret_of_exactly_1_mib_is_read(secret_info, tmp_path) -> None:
    text = json.dumps(secret_info)
    path = tmp_path / "padded.json"
    path.write_text(text + " " * ((1 << 20) - len(text)))
    assert path.stat().st_size == 1 << 20
    assert ServiceAccount.from_file(path).uid == "my-framework"


def test_a_missing_file_says_what_to_do(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CredentialError, match=r"file not found \(looked at ") as caught:
        ServiceAccount.from_file("nope.json")
    assert str(tmp_path / "nope.json") in str(caught.value)
    assert caught.value.fix.startswith("check the path")
