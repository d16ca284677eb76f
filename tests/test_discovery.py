"""resolve_service_account: arguments, then the environment; half-configured is an error."""

from __future__ import annotations

import json

import pytest

from mesos_auth import ConfigurationError, CredentialError, NoServiceAccountError, resolve_service_account
from mesos_auth.account import CREDENTIAL_ENV
from tests.conftest import LOGIN_ENDPOINT, pem


def test_explicit_account_wins_over_the_environment(account, secret_info) -> None:
    environ = {CREDENTIAL_ENV: json.dumps(dict(secret_info, uid="from-env"))}
    resolution = resolve_service_account(account, environ=environ)
    assert resolution.account is account and resolution


@pytest.mark.parametrize("form", ["dict", "json", "path", "pathlike"])
def test_explicit_forms(secret_info, write_secret, form) -> None:
    path = write_secret(secret_info)
    value = {"dict": secret_info, "json": json.dumps(secret_info), "path": str(path), "pathlike": path}[form]
    assert resolve_service_account(value, environ={}).require().uid == "my-framework"


def test_pieces(rsa_key, tmp_path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(pem(rsa_key))
    resolution = resolve_service_account(
        uid="svc", private_key_file=key_file, login_endpoint=LOGIN_ENDPOINT, environ={}
    )
    assert resolution.account is not None and resolution.account.uid == "svc"


def test_half_given_pieces_are_an_error(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="uid given, private_key_file, login_endpoint missing"):
        resolve_service_account(uid="svc", environ={})


def test_account_and_pieces_together_are_ambiguous(account) -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        resolve_service_account(account, uid="svc")


def test_environment(secret_info) -> None:
    resolution = resolve_service_account(environ={CREDENTIAL_ENV: json.dumps(secret_info)})
    assert resolution.require().uid == "my-framework"
    assert CREDENTIAL_ENV in (resolution.source or "")


def test_broken_environment_is_an_error_not_a_miss() -> None:
    with pytest.raises(CredentialError):
        resolve_service_account(environ={CREDENTIAL_ENV: "/does/not/exist.json"})


def test_nothing_found_says_so_and_lists_the_places() -> None:
    resolution = resolve_service_account(environ={})
    assert not resolution and resolution.account is None
    assert any(CREDENTIAL_ENV in place for place in resolution.tried)
    with pytest.raises(NoServiceAccountError) as caught:
        resolution.require("strict mode needs a service account")
    message = str(caught.value)
    assert message.startswith("strict mode needs a service account")
    assert "arguments" in message and CREDENTIAL_ENV in message


def test_wrong_type_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="not int"):
        resolve_service_account(42)  # type: ignore[arg-type]


# -- a secret value that is neither JSON nor a path is described, never quoted -------------


def test_a_key_passed_as_service_account_is_described(secret_info) -> None:
    key_pem = secret_info["private_key"]
    with pytest.raises(CredentialError) as caught:
        resolve_service_account(key_pem, environ={})
    message = str(caught.value)
    assert caught.value.source == "the service_account argument"
    assert "is not JSON, and not a path: it is a value of" in message
    assert "holds a PEM private key (give the secret JSON, not the key)" in message
    assert not any(line in message for line in key_pem.splitlines()[1:-1])
    assert "PRIVATE KEY" not in message


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("x" * 4097, "a value of 4097 characters, too long for a path"),
        ('"{\\"uid\\": 1}"', "starts with a quote"),
        ("\ufeffsecret.json", "starts with a byte-order mark"),
        ("secret.json\r", "line breaks or control characters"),
    ],
)
def test_other_values_that_cannot_be_paths(value, said) -> None:
    with pytest.raises(CredentialError, match=said) as caught:
        resolve_service_account(value, environ={})
    assert value not in str(caught.value)


def test_a_too_long_pathlike_is_a_credential_error(tmp_path) -> None:
    with pytest.raises(CredentialError, match="too long for a path"):
        resolve_service_account(tmp_path / ("n" * 300), environ={})


def test_json_with_a_bom_as_the_argument(secret_info) -> None:
    assert resolve_service_account("\ufeff" + json.dumps(secret_info), environ={}).require().uid == "my-framework"


def test_a_missing_secret_file_says_what_to_do(tmp_path) -> None:
    with pytest.raises(CredentialError, match="file not found") as caught:
        resolve_service_account(str(tmp_path / "nope.json"), environ={})
    assert "check the path" in caught.value.fix
