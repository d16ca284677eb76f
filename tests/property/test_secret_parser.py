"""Property: whatever a secret value holds, parsing it gives an account or a configuration error.

Arbitrary text, arbitrary JSON objects, secrets whose fields hold arbitrary values,
and text around a real PEM key (made once for the module) go to
``ServiceAccount.from_env`` and ``ServiceAccount.from_json``. The outcome is a
:class:`ServiceAccount` or a :class:`~mesos_auth.errors.ConfigurationError`
(``CredentialError``, ``NoServiceAccountError``), never anything else, and no
error's text holds a line of the key's PEM body.

Bounded: a few hundred examples in all, no deadline (key parsing varies with the
machine), run from an empty directory so that no generated path names a real file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesos_auth import ServiceAccount
from mesos_auth.account import CREDENTIAL_ENV
from mesos_auth.errors import ConfigurationError

LOGIN_ENDPOINT = "https://master.mesos/acs/api/v1/auth/login"

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
BODY = [line for line in PEM.splitlines() if line and not line.startswith("-----")]

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written to the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Any text, lone surrogates and control characters included.
ANY_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=200)
#: JSON values, nested a little.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
#: What may stand in a field of a secret: anything, the real key, a piece of it, the usual values.
FIELD_VALUES = st.one_of(
    JSON_VALUES,
    st.just(PEM),
    st.integers(0, len(PEM)).flatmap(lambda start: st.integers(start, len(PEM)).map(lambda end: PEM[start:end])),
    st.sampled_from(["svc", "RS256", "HS256", LOGIN_ENDPOINT, "http://m/login", "anonymous", "a/b", ""]),
)
SECRETS = st.fixed_dictionaries(
    {},
    optional={
        "uid": FIELD_VALUES,
        "private_key": FIELD_VALUES,
        "login_endpoint": FIELD_VALUES,
        "scheme": FIELD_VALUES,
        "extra": FIELD_VALUES,
    },
)


@pytest.fixture(autouse=True)
def empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def outcome(parse: Callable[[], ServiceAccount]) -> Optional[ConfigurationError]:
    """None when an account was made, the error when it was refused; anything else fails the test."""
    try:
        account = parse()
    except ConfigurationError as error:
        assert_no_key_body(error)
        return error
    assert isinstance(account, ServiceAccount)
    assert_no_key_body_in(repr(account), str(account))
    return None


def assert_no_key_body(error: BaseException) -> None:
    texts: List[str] = [str(error), repr(error)]
    texts += [str(getattr(error, name, "")) for name in ("problem", "source", "fix", "field")]
    assert_no_key_body_in(*texts)


def assert_no_key_body_in(*texts: str) -> None:
    for text in texts:
        leaked = [number for number, line in enumerate(BODY) if line in text]
        assert not leaked, f"lines {leaked} of the key's body are in the text"  # numbers, never lines
        assert "PRIVATE KEY-----" not in text


def both(value: str) -> None:
    outcome(lambda: ServiceAccount.from_env({CREDENTIAL_ENV: value}))
    outcome(lambda: ServiceAccount.from_json(value))


@BOUNDED
@given(ANY_TEXT)
def test_arbitrary_text(value: str) -> None:
    both(value)


@BOUNDED
@given(ANY_TEXT.map(lambda text: "{" + text))
def test_arbitrary_text_that_starts_like_json(value: str) -> None:
    both(value)


@BOUNDED
@given(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=5))
def test_arbitrary_json_objects(info: Any) -> None:
    both(json.dumps(info))
    outcome(lambda: ServiceAccount.from_info(info))


@BOUNDED
@given(SECRETS, st.booleans(), st.booleans())
def test_secrets_with_arbitrary_fields(info: Any, bom: bool, ascii_only: bool) -> None:
    text = json.dumps(info, ensure_ascii=ascii_only)
    both("\ufeff" + text if bom else text)


#: Secrets with the real key, so that every check after the key's is reached too.
WITH_THE_KEY = st.fixed_dictionaries(
    {
        "private_key": st.just(PEM),
        "uid": st.one_of(st.sampled_from(["svc", "a@b.c", "anonymous", "x" * 97]), FIELD_VALUES),
        "login_endpoint": st.one_of(st.sampled_from([LOGIN_ENDPOINT, "https://[::1", "ftp://u:p@h/"]), FIELD_VALUES),
    },
    optional={"scheme": st.one_of(st.just("RS256"), FIELD_VALUES)},
)


@BOUNDED
@given(WITH_THE_KEY)
def test_a_real_key_with_arbitrary_other_fields(info: Any) -> None:
    both(json.dumps(info))
    outcome(lambda: ServiceAccount.from_info(info))


@BOUNDED
@given(
    st.sampled_from(["uid", "login_endpoint", "scheme"]), st.sampled_from([PEM, PEM.strip(), PEM.replace("\n", "\r\n")])
)
def test_the_key_in_the_wrong_field(field: str, key: str) -> None:
    info = {"uid": "svc", "private_key": PEM, "login_endpoint": LOGIN_ENDPOINT, "scheme": "RS256", field: key}
    error = outcome(lambda: ServiceAccount.from_json(json.dumps(info)))
    assert error is not None


@BOUNDED
@given(ANY_TEXT, ANY_TEXT, st.sampled_from(["as is", "quoted", "json string", "bom", "file url"]))
def test_text_around_the_key(prefix: str, suffix: str, wrapping: str) -> None:
    key = {
        "as is": PEM,
        "quoted": "'" + PEM + "'",
        "json string": json.dumps(PEM),
        "bom": "\ufeff" + PEM,
        "file url": "file://" + PEM,
    }[wrapping]
    value = prefix + key + suffix
    both(value)
    error = outcome(lambda: ServiceAccount.from_env({CREDENTIAL_ENV: value}))
    assert error is not None  # never an account: the key alone is not a secret


def test_a_valid_secret_still_parses() -> None:
    """The other side of the property: the real thing, in each form, is an account."""
    text = json.dumps({"uid": "svc", "private_key": PEM, "login_endpoint": LOGIN_ENDPOINT})
    for value in (text, "\ufeff" + text, "  " + text + "\n"):
        assert outcome(lambda value=value: ServiceAccount.from_env({CREDENTIAL_ENV: value})) is None
    assert outcome(lambda: ServiceAccount.from_json("\ufeff" + text)) is None
