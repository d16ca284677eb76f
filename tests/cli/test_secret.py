"""``mesos-auth secret``: the pieces checked by the library, the secret written 0600."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mesos_auth.account import ServiceAccount
from mesos_auth.cli import main
from tests.cli.auth_support import assert_no_secrets, clean_environment
from tests.conftest import pem

ENDPOINT = "https://master.mesos/acs/api/v1/auth/login"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    clean_environment(monkeypatch)


@pytest.fixture
def key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "private.pem"
    path.write_text(pem(rsa_key, "pkcs1"))  # PKCS#1 in, PKCS#8 out
    return path


def secret_args(key_file: Path, *extra: str, uid: str = "my-framework") -> List[str]:
    return ["secret", "--uid", uid, "--private-key", str(key_file), "--login-endpoint", ENDPOINT, *extra]


def test_writes_the_secret_0600_and_says_how_to_use_it(
    tmp_path: Path, key_file: Path, rsa_key: rsa.RSAPrivateKey, capsys: Any
) -> None:
    out_path = tmp_path / "secret.json"

    assert main(secret_args(key_file, "--out", str(out_path))) == 0

    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600
    info = json.loads(out_path.read_text())
    assert list(info) == ["scheme", "uid", "private_key", "login_endpoint"]
    assert info["scheme"] == "RS256" and info["uid"] == "my-framework" and info["login_endpoint"] == ENDPOINT
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    account = ServiceAccount.from_file(out_path)
    same_key = account.private_key.private_numbers() == rsa_key.private_numbers()
    assert same_key

    out, err = capsys.readouterr()
    assert f"DCOS_SERVICE_ACCOUNT_CREDENTIAL={out_path.resolve().as_uri()}" in out
    assert f"mesos-auth doctor --secret {out_path.resolve()}" in out
    assert err == ""
    assert_no_secrets(out, err)


def test_the_default_file_is_named_after_the_uid(
    tmp_path: Path, key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(secret_args(key_file, uid="team.framework@example")) == 0
    written = tmp_path / "team.framework@example-secret.json"
    assert json.loads(written.read_text())["uid"] == "team.framework@example"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("uid", "said"),
    [
        ("team/framework", "'team/framework' holds characters the IAM does not allow"),
        ("anonymous", "'anonymous' is reserved by the IAM"),
        ("a" * 97, "is 97 characters long, more than the IAM allows"),
        ("evil\x1b[2Jname", "'evil\\x1b[2Jname' holds characters"),
    ],
)
def test_a_uid_the_iam_could_never_hold_is_refused(
    tmp_path: Path, key_file: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch, uid: str, said: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(secret_args(key_file, uid=uid)) == 2
    err = capsys.readouterr().err
    assert said in err and "1 to 96 characters, each a letter, a digit" in err
    assert "\x1b" not in err  # escaped, never sent to the terminal raw
    assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.pem"]


def test_the_key_itself_instead_of_its_file_is_described(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, capsys: Any
) -> None:
    key_pem = pem(rsa_key)
    out_path = tmp_path / "secret.json"
    args = ["secret", "--uid", "u", "--private-key", key_pem, "--login-endpoint", ENDPOINT, "--out", str(out_path)]

    assert main(args) == 2

    out, err = capsys.readouterr()
    assert "field 'private_key_file': is not a path: it is a value of" in err
    assert "holds a PEM private key (the key itself, not its file's path)" in err
    assert_no_secrets(out, err)
    assert not any(line in err for line in key_pem.splitlines()[1:-1])
    assert not out_path.exists()


def test_stdout_only_when_asked_with_a_dash(tmp_path: Path, key_file: Path, capsys: Any) -> None:
    assert main(secret_args(key_file, "--out", "-")) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["uid"] == "my-framework"  # stdout holds the JSON alone
    assert "written to stdout" in err
    assert_no_secrets(err)


def test_refuses_to_overwrite_without_force(tmp_path: Path, key_file: Path, capsys: Any) -> None:
    out_path = tmp_path / "secret.json"
    out_path.write_text("{}")

    assert main(secret_args(key_file, "--out", str(out_path))) == 2
    assert "already exists" in capsys.readouterr().err
    assert out_path.read_text() == "{}"

    os.chmod(out_path, 0o644)
    assert main(secret_args(key_file, "--out", str(out_path), "--force")) == 0
    assert json.loads(out_path.read_text())["uid"] == "my-framework"
    assert stat.S_IMODE(out_path.stat().st_mode) == 0o600


def test_an_encrypted_key_with_its_passphrase_from_the_environment(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    key_file = tmp_path / "encrypted.pem"
    key_file.write_text(pem(rsa_key, passphrase=b"open sesame"))
    out_path = tmp_path / "secret.json"

    assert main(secret_args(key_file, "--out", str(out_path))) == 2
    assert "encrypted and no passphrase" in capsys.readouterr().err

    assert main(secret_args(key_file, "--out", str(out_path), "--passphrase-env", "MY_PASSPHRASE")) == 2
    assert "$MY_PASSPHRASE, which is not set" in capsys.readouterr().err

    monkeypatch.setenv("MY_PASSPHRASE", "open sesame")
    assert main(secret_args(key_file, "--out", str(out_path), "--passphrase-env", "MY_PASSPHRASE")) == 0
    assert ServiceAccount.from_file(out_path).uid == "my-framework"  # the secret holds the key decrypted
    assert "open sesame" not in capsys.readouterr().out


def test_an_http_endpoint_gets_a_note(tmp_path: Path, key_file: Path, capsys: Any) -> None:
    args = [
        "secret",
        "--uid",
        "u",
        "--private-key",
        str(key_file),
        "--login-endpoint",
        "http://m/acs/api/v1/auth/login",
    ]
    assert main([*args, "--out", str(tmp_path / "s.json")]) == 0
    assert "permissive" in capsys.readouterr().out


def ec_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "ec.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing key file", "file not found"),
        ("ec key", "is an EC key, not RSA"),
        ("public key", "holds a public key"),
        ("bad endpoint", "is not an http(s) URL"),
        ("uid with a space", "contains whitespace"),
    ],
)
def test_every_problem_is_the_library_error_in_one_line(
    tmp_path: Path, key_file: Path, rsa_key: rsa.RSAPrivateKey, capsys: Any, case: str, expected: str
) -> None:
    uid, endpoint, key = "my-framework", ENDPOINT, key_file
    if case == "missing key file":
        key = tmp_path / "nowhere.pem"
    elif case == "ec key":
        key = ec_key_file(tmp_path)
    elif case == "public key":
        key = tmp_path / "public.pem"
        key.write_bytes(
            rsa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    elif case == "bad endpoint":
        endpoint = "ftp://master.mesos/login"
    else:
        uid = "my framework"
    out_path = tmp_path / "secret.json"

    code = main(
        ["secret", "--uid", uid, "--private-key", str(key), "--login-endpoint", endpoint, "--out", str(out_path)]
    )

    out, err = capsys.readouterr()
    assert code == 2
    assert err.startswith("mesos-auth secret: service account secret from ")
    assert expected in err and err.count("\n") == 1
    assert not out_path.exists()
    assert_no_secrets(out, err)


def test_keypair_then_secret_then_login(tmp_path: Path, capsys: Any) -> None:
    """The whole path of a new account: make the keys, register the public one, make the secret, log in."""
    from mesos_auth.testing import FakeIAM, TestCA

    ca = TestCA(tmp_path / "ca")
    with FakeIAM(tls=ca) as iam:
        assert main(["keypair", "--out-dir", str(tmp_path), "--name", "newcomer"]) == 0
        iam.add_account("newcomer", (tmp_path / "newcomer-public.pem").read_text())
        secret_path = tmp_path / "newcomer-secret.json"
        args = ["secret", "--uid", "newcomer", "--private-key", str(tmp_path / "newcomer-private.pem")]
        assert main([*args, "--login-endpoint", iam.login_endpoint, "--out", str(secret_path)]) == 0
        capsys.readouterr()

        code = main(["login", "--secret", str(secret_path), "--security-mode", "strict", "--ca-bundle", ca.ca_bundle])

        out, err = capsys.readouterr()
        assert code == 0, err
        assert "logged in as 'newcomer'" in out
        assert iam.logins_for("newcomer") == 1
        iam.check()
