"""``mesos-auth keypair``: real keys in real files, never readable by others."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, List

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth.cli import main
from tests.cli.auth_support import assert_no_secrets


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def load_pair(private_path: Path, public_path: Path) -> rsa.RSAPrivateKey:
    private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public_key = serialization.load_pem_public_key(public_path.read_bytes())
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    return private_key


def test_writes_a_pkcs8_private_key_0600_and_its_public_key(tmp_path: Path, capsys: Any) -> None:
    assert main(["keypair", "--out-dir", str(tmp_path), "--name", "my-framework"]) == 0

    private_path, public_path = tmp_path / "my-framework-private.pem", tmp_path / "my-framework-public.pem"
    assert mode_of(private_path) == 0o600
    assert mode_of(public_path) & 0o022 == 0  # nobody else may change the public key either
    assert private_path.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert public_path.read_text().startswith("-----BEGIN PUBLIC KEY-----")  # what `dcos ... create -p` takes
    assert load_pair(private_path, public_path).key_size == 2048

    out, err = capsys.readouterr()
    assert str(private_path) in out and str(public_path) in out
    assert f"dcos security org service-accounts create -p {public_path}" in out
    assert "mesos-auth secret --uid my-framework" in out
    assert err == ""
    assert_no_secrets(out, err)


def test_the_private_key_is_created_0600_from_its_first_byte(tmp_path: Path, mocker: Any) -> None:
    opened = mocker.spy(os, "open")

    assert main(["keypair", "--out-dir", str(tmp_path)]) == 0

    private_path = str(tmp_path / "service-account-private.pem")
    calls: List[Any] = [call for call in opened.call_args_list if str(call.args[0]) == private_path]
    assert len(calls) == 1
    flags, mode = calls[0].args[1], calls[0].args[2]
    assert mode == 0o600
    assert flags & os.O_CREAT and flags & os.O_EXCL  # a new file: never an existing one, never a symlink


@pytest.mark.parametrize("bits", [3072])
def test_bits(tmp_path: Path, bits: int) -> None:
    assert main(["keypair", "--out-dir", str(tmp_path), "--bits", str(bits)]) == 0
    pair = load_pair(tmp_path / "service-account-private.pem", tmp_path / "service-account-public.pem")
    assert pair.key_size == bits


@pytest.mark.parametrize("bits", ["1024", "2047", "512"])
def test_refuses_weak_sizes_with_exit_code_2(tmp_path: Path, capsys: Any, bits: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keypair", "--out-dir", str(tmp_path), "--bits", bits])
    assert exited.value.code == 2
    assert f"argument --bits: {bits}-bit RSA keys are too weak: service accounts need at least 2048 bits" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("bits", "said"), [("2500", "is not offered"), ("many", "is not a number")])
def test_refuses_sizes_it_does_not_offer(tmp_path: Path, capsys: Any, bits: str, said: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keypair", "--out-dir", str(tmp_path), "--bits", bits])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_write_key_pair_refuses_a_weak_size_too(tmp_path: Path) -> None:
    from mesos_auth.cli.keypair import write_key_pair
    from mesos_auth.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="1024-bit RSA keys are too weak"):
        write_key_pair(tmp_path, "weak", bits=1024)
    assert list(tmp_path.iterdir()) == []


def test_the_public_key_gets_its_mode_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o077)
    try:
        assert main(["keypair", "--out-dir", str(tmp_path)]) == 0
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "service-account-public.pem") == 0o644
    assert mode_of(tmp_path / "service-account-private.pem") == 0o600


def test_refuses_to_overwrite_without_force(tmp_path: Path, capsys: Any) -> None:
    public_path = tmp_path / "service-account-public.pem"
    public_path.write_text("mine")

    assert main(["keypair", "--out-dir", str(tmp_path)]) == 2

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{public_path} already exists" in err and "--force" in err
    assert public_path.read_text() == "mine"
    assert not (tmp_path / "service-account-private.pem").exists()  # nothing is written when one file is in the way


def test_force_overwrites_and_tightens_the_mode(tmp_path: Path) -> None:
    private_path, public_path = tmp_path / "service-account-private.pem", tmp_path / "service-account-public.pem"
    private_path.write_text("old")
    os.chmod(private_path, 0o644)
    public_path.write_text("old")

    assert main(["keypair", "--out-dir", str(tmp_path), "--force"]) == 0

    assert mode_of(private_path) == 0o600
    load_pair(private_path, public_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [private_path.name, public_path.name]  # no temporary left


def test_creates_the_output_directory(tmp_path: Path) -> None:
    out_dir = tmp_path / "keys" / "new"
    assert main(["keypair", "--out-dir", str(out_dir)]) == 0
    assert (out_dir / "service-account-private.pem").is_file()
    assert mode_of(out_dir) & 0o077 == 0


@pytest.mark.parametrize("name", ["a/b", "..", ""])
def test_a_name_is_a_file_name_prefix(tmp_path: Path, name: str, capsys: Any) -> None:
    assert main(["keypair", "--out-dir", str(tmp_path), "--name", name]) == 2
    assert "--name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_out_dir_that_is_a_file(tmp_path: Path, capsys: Any) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert main(["keypair", "--out-dir", str(not_a_dir)]) == 2
    assert "not a directory" in capsys.readouterr().err
