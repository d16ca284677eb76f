"""``mesos-auth keypair``: make the RSA key pair of a new service account.

Writes ``NAME-private.pem`` (PKCS#8, unencrypted, mode 0600 from the moment it is
created) and ``NAME-public.pem`` (SubjectPublicKeyInfo: what
``dcos security org service-accounts create -p`` registers). Prints the paths
and the next steps, never the private key.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Tuple

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mesos_auth._files import PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, write_file
from mesos_auth.account import MIN_KEY_SIZE
from mesos_auth.cli._common import refuse_existing
from mesos_auth.errors import ConfigurationError

#: Key sizes offered; DC/OS's own ``service-accounts keypair`` makes 2048-bit keys, and
#: ServiceAccount refuses fewer than ``MIN_KEY_SIZE`` bits.
KEY_SIZES = (2048, 3072, 4096)
DEFAULT_NAME = "service-account"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "keypair",
        help="make the RSA key pair of a new service account",
        description="Write NAME-private.pem (mode 0600) and NAME-public.pem, the public key DC/OS "
        "registers with `dcos security org service-accounts create -p`.",
    )
    parser.add_argument("--out-dir", metavar="DIR", default=".", help="where to write the files (default: .)")
    parser.add_argument(
        "--name", metavar="NAME", default=DEFAULT_NAME, help=f"file name prefix (default: {DEFAULT_NAME})"
    )
    parser.add_argument(
        "--bits",
        type=key_bits,
        default=KEY_SIZES[0],
        metavar="{" + ",".join(str(size) for size in KEY_SIZES) + "}",
        help=f"RSA key size (default: {KEY_SIZES[0]}; fewer than {MIN_KEY_SIZE} bits are refused)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.set_defaults(run=run)


def key_bits(text: str) -> int:
    """``--bits``: one of ``KEY_SIZES``. Under 2048 bits the account could not use the key, so say why."""
    try:
        bits = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bits") from None
    if bits < MIN_KEY_SIZE:
        raise argparse.ArgumentTypeError(weak_key_problem(bits))
    if bits not in KEY_SIZES:
        raise argparse.ArgumentTypeError(f"{bits} bits is not offered: choose {', '.join(map(str, KEY_SIZES))}")
    return bits


def weak_key_problem(bits: int) -> str:
    return f"{bits}-bit RSA keys are too weak: service accounts need at least {MIN_KEY_SIZE} bits"


def key_paths(out_dir: Path, name: str) -> Tuple[Path, Path]:
    """The private and public key files for ``name`` in ``out_dir``."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ConfigurationError(f"--name {name!r} must be a plain file name prefix, without a directory")
    return out_dir / f"{name}-private.pem", out_dir / f"{name}-public.pem"


def write_key_pair(
    out_dir: Path, name: str, *, bits: int = 2048, force: bool = False
) -> Tuple[rsa.RSAPrivateKey, Path, Path]:
    """Make an RSA key pair; write NAME-private.pem (0600) and NAME-public.pem into ``out_dir``."""
    if bits < MIN_KEY_SIZE:
        raise ConfigurationError(weak_key_problem(bits))
    private_path, public_path = key_paths(out_dir, name)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigurationError(f"--out-dir {out_dir} exists and is not a directory")
    if not force:
        refuse_existing(private_path, public_path)  # both checked before anything is written
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_file(private_path, private_pem, mode=PRIVATE_FILE_MODE, force=force)
    write_file(public_path, public_pem, mode=PUBLIC_FILE_MODE, force=force)
    return key, private_path, public_path


def run(args: argparse.Namespace) -> int:
    _, private_path, public_path = write_key_pair(Path(args.out_dir), args.name, bits=args.bits, force=args.force)

    uid = args.name
    print(f"private key ({args.bits}-bit RSA, mode 0600, keep it secret): {private_path}")
    print(f"public key:  {public_path}")
    print("next steps:")
    print("  1. register the public key as a service account (as a DC/OS superuser):")
    print(f'       dcos security org service-accounts create -p {public_path} -d "{uid} service account" {uid}')
    print("  2. make the secret the framework logs in with:")
    print(
        f"       mesos-auth secret --uid {uid} --private-key {private_path} "
        "--login-endpoint https://<master>/acs/api/v1/auth/login"
    )
    return 0
