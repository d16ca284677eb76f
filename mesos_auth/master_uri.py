"""Master addresses: what pymesos accepts, plus schemes and IPv6 it does not.

pymesos takes ``host[:port]`` (5050 added) or ``zk://...``. A DC/OS framework
also meets ``https://leader.mesos:5050`` (strict clusters require TLS to the
master) and ``http://...``. This module parses all of them into one value that
knows its scheme, and resolves the protocol-relative ``Location`` of a 307 from
a non-leading master without ever downgrading https to http.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple
from urllib.parse import urlsplit

from mesos_auth._http import Origin
from mesos_auth._redact import safe_url
from mesos_auth.errors import ConfigurationError

DEFAULT_PORT = 5050
ZOOKEEPER_SCHEMES = ("zk://", "zoo://")


@dataclass(frozen=True)
class MasterAddress(Origin):
    """One master: ``scheme`` (http or https), ``host`` and ``port``; ``netloc`` is
    ``host:port`` as pymesos keeps it (IPv6 hosts in brackets)."""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def _shown(uri: str) -> str:
    return repr(safe_url(uri, 200))


def is_zookeeper(uri: str) -> bool:
    return uri.startswith(ZOOKEEPER_SCHEMES)


def parse_master(uri: str, default_scheme: str = "http") -> MasterAddress:
    """Parse ``host``, ``host:port``, ``[v6]:port`` or ``http(s)://host[:port][/]``."""
    text = uri.strip()
    if not text:
        raise ConfigurationError("the master URI is empty: give host:port, https://host:port or zk://...")
    if is_zookeeper(text):
        raise ConfigurationError(f"{_shown(uri)} is a ZooKeeper URI, not the address of one master")
    if "://" not in text:
        text = f"{default_scheme}://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ConfigurationError(
            f"master URI {_shown(uri)} has an invalid port or host "
            "(check the port number, and the brackets around an IPv6 address)"
        ) from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"master URI {_shown(uri)} has scheme {safe_url(parts.scheme, 20)!r}: use http, https or zk"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigurationError(
            f"master URI {_shown(uri)} has a path: give the master's address only; "
            "the scheduler API is always at /api/v1/scheduler"
        )
    if not parts.hostname:
        raise ConfigurationError(f"master URI {_shown(uri)} has no host")
    return MasterAddress(parts.scheme, parts.hostname.lower(), port)


def parse_masters(uri: str, default_scheme: str = "http") -> Tuple[MasterAddress, ...]:
    """One master address or several, comma-separated (tried in turn when one is unreachable)."""
    parts = [part for part in uri.split(",") if part.strip()] if "," in uri else [uri]
    return tuple(parse_master(part, default_scheme) for part in parts)


def follow_redirect(current: MasterAddress, location: Optional[str]) -> MasterAddress:
    """The master a ``307`` points to; a protocol-relative location keeps our scheme.

    Mesos answers with ``//host:port/api/v1/scheduler``. A location that would move
    from https to http keeps https (the token never travels in clear); one with any
    other scheme, or none that can be read, raises :class:`ConfigurationError`
    naming what it was.
    """
    if not location or not location.strip():
        raise ConfigurationError(f"master {current} answered 307 without a Location")
    location = location.strip()
    try:
        if location.startswith("//"):
            target = parse_master(f"{current.scheme}:{location.split('/api/', 1)[0]}")
        elif "://" in location:
            parts = urlsplit(location)
            if parts.scheme.lower() not in ("http", "https"):
                raise ConfigurationError(
                    f"master {current} redirected to {safe_url(location, 200)!r}, "
                    f"a {safe_url(parts.scheme, 20)!r} address, not a Mesos master"
                )
            target = parse_master(f"{parts.scheme.lower()}://{parts.netloc}")
        else:
            target = parse_master(location.split("/api/", 1)[0], default_scheme=current.scheme)
    except (ConfigurationError, ValueError) as exc:
        if "redirected to" in str(exc):
            raise
        raise ConfigurationError(
            f"master {current} redirected to an unusable Location {safe_url(location, 200)!r}"
        ) from None
    if current.tls and not target.tls:
        target = MasterAddress("https", target.host, target.port)
    return target
