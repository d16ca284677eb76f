"""What the client tells about a refused login from its own facts: clock skew, key fingerprint, hint."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from email.utils import formatdate

import pytest
from cryptography.hazmat.primitives import serialization

from mesos_auth.login_diagnosis import (
    clock_skew,
    expired_by_clock,
    key_fingerprint,
    rejection_hint,
)

NOW = 1_800_000_000.0


def test_the_fingerprint_is_the_sha256_of_the_public_key_der(rsa_key, other_rsa_key) -> None:
    der = rsa_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key_fingerprint(rsa_key) == hashlib.sha256(der).hexdigest()
    assert key_fingerprint(rsa_key) != key_fingerprint(other_rsa_key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_openssl_prints_the_same_fingerprint_for_the_registered_pem(rsa_key, tmp_path) -> None:
    # What the hint tells an admin to run on the public key registered for the account.
    pem = tmp_path / "registered-key.pem"
    pem.write_bytes(
        rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    der = subprocess.run(  # noqa: S603
        ["openssl", "pkey", "-pubin", "-in", str(pem), "-outform", "DER"],  # noqa: S607
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    assert hashlib.sha256(der).hexdigest() == key_fingerprint(rsa_key)


def test_the_fingerprint_shows_nothing_of_the_private_key(rsa_key) -> None:
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    fingerprint = key_fingerprint(rsa_key)
    assert len(fingerprint) == 64 and set(fingerprint) <= set("0123456789abcdef")
    assert all(line not in fingerprint for line in pem.splitlines() if not line.startswith("-----"))


@pytest.mark.parametrize("offset", [0, 3600, -3600, 7.0])
def test_clock_skew_from_a_date_header(offset: float) -> None:
    date = formatdate(NOW + offset, usegmt=True)
    skew = clock_skew(date, NOW - 0.2, NOW + 0.2)
    assert skew == pytest.approx(offset, abs=0.5)


@pytest.mark.parametrize(
    "date",
    [
        None,
        "",
        "yesterday",
        "Thu, 99 Foo 2024 99:99:99 GMT",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT" + " " * 200,
        "\x1b[2J",
    ],
)
def test_an_unreadable_date_header_gives_no_skew(date) -> None:
    assert clock_skew(date, NOW, NOW) is None


def test_a_wild_but_readable_date_gives_a_finite_skew() -> None:
    skew = clock_skew("Fri, 31 Dec 9999 23:59:59 GMT", NOW, NOW)
    assert skew is not None and skew > 0


@pytest.mark.parametrize(
    ("skew", "expired"),
    [(None, False), (0.0, False), (-3600.0, False), (170.0, False), (178.0, True), (180.0, True), (3600.0, True)],
)
def test_only_an_iam_ahead_by_the_login_token_lifetime_expires_it(skew, expired) -> None:
    assert expired_by_clock(skew, 180.0) is expired


def hint(status: int = 401, skew=0.0, fingerprint: str = "ab" * 32) -> str:
    return rejection_hint(
        status=status, uid="svc", clock_skew=skew, key_fingerprint=fingerprint, login_token_lifetime=180.0
    )


def test_the_401_hint_names_the_facts_not_a_guess_from_the_iam() -> None:
    text = hint()
    assert text.startswith("the IAM does not say which check failed: check that the service account 'svc' exists")
    assert f"SHA-256 {'ab' * 32} of the public key's DER" in text
    assert "dcos security org service-accounts show svc" in text
    assert text.endswith(
        "the clocks agree (by the Date header of the IAM's answer), so the login token had not expired"
    )


def test_the_401_hint_without_a_date_or_a_fingerprint() -> None:
    text = hint(skew=None, fingerprint="")
    assert "belongs to this private key (dcos security org service-accounts show svc shows it)" in text
    assert text.endswith("the IAM's answer had no usable Date header, so the clocks could not be compared")


def test_the_401_hint_puts_a_clock_far_ahead_first() -> None:
    text = hint(skew=600.0)
    assert text.startswith(
        "likely cause: the IAM's clock is 600 s ahead of this machine's (by the Date header of its answer), more "
        "than the 180 s a login token lives, so the IAM took it for expired: synchronise the clocks (NTP)"
    )
    assert "exists on this cluster" in text


@pytest.mark.parametrize(
    ("status", "start"),
    [
        (400, "the IAM could not read the login request (HTTP 400)"),
        (415, "the IAM could not read the login request (HTTP 415)"),
        (404, "check the login_endpoint in the secret: it should end with /acs/api/v1/auth/login"),
        (403, "HTTP 403 is not an answer of the IAM's login"),
    ],
)
def test_other_statuses_get_a_hint_about_the_endpoint(status: int, start: str) -> None:
    text = hint(status)
    assert text.startswith(start)
    assert "service account" not in text and "SHA-256" not in text
