"""Master addresses and the 307 Location of a non-leading master."""

from __future__ import annotations

import pytest

from mesos_auth import ConfigurationError
from mesos_auth.master_uri import MasterAddress, follow_redirect, is_zookeeper, parse_master


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("leader.mesos", MasterAddress("http", "leader.mesos", 5050)),
        ("10.0.0.1:5051", MasterAddress("http", "10.0.0.1", 5051)),
        ("https://leader.mesos", MasterAddress("https", "leader.mesos", 5050)),
        ("https://leader.mesos:443/", MasterAddress("https", "leader.mesos", 443)),
        ("http://127.0.0.1:8080", MasterAddress("http", "127.0.0.1", 8080)),
        ("[::1]:5050", MasterAddress("http", "::1", 5050)),
    ],
)
def test_parse(uri, expected) -> None:
    assert parse_master(uri) == expected


def test_default_scheme_applies_to_bare_addresses_only() -> None:
    assert parse_master("m:1", default_scheme="https").scheme == "https"
    assert parse_master("http://m:1", default_scheme="https").scheme == "http"


def test_netloc_and_url() -> None:
    assert parse_master("[::1]:5050").netloc == "[::1]:5050"
    assert parse_master("https://m:1").url == "https://m:1"
    assert str(parse_master("m")) == "http://m:5050"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty"),
        ("zk://z:2181/mesos", "ZooKeeper"),
        ("ftp://m:1", "scheme 'ftp'"),
        ("https://m:1/mesos", "has a path"),
        ("http://m:port", "invalid port"),
    ],
)
def test_bad_uris(uri, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_master(uri)


def test_is_zookeeper() -> None:
    assert is_zookeeper("zk://a:2181,b:2181/mesos") and is_zookeeper("zoo://a/mesos")
    assert not is_zookeeper("https://m")


def test_protocol_relative_location_keeps_the_scheme() -> None:
    current = MasterAddress("https", "127.0.0.1", 1)
    assert follow_redirect(current, "//127.0.0.2:5050/api/v1/scheduler") == MasterAddress("https", "127.0.0.2", 5050)


def test_redirect_never_downgrades_to_http() -> None:
    current = MasterAddress("https", "a", 1)
    assert follow_redirect(current, "http://b:2/api/v1/scheduler").scheme == "https"


def test_plain_location_and_missing_location() -> None:
    current = MasterAddress("http", "a", 1)
    assert follow_redirect(current, "b:2") == MasterAddress("http", "b", 2)
    with pytest.raises(ConfigurationError, match="without a Location"):
        follow_redirect(current, None)
