"""FakeServer(ssl_downgrade=True): plain http and TLS on one port, as libprocess with
``LIBPROCESS_SSL_SUPPORT_DOWNGRADE=true`` (apache/mesos ``3rdparty/libprocess/src/
ssl/openssl_socket.cpp``, ``OpenSSLSocketImpl::accept``) serves them."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from typing import Iterator, List

import pytest

from mesos_auth.testing import TestCA
from mesos_auth.testing._server import FakeServer, Request, Response, looks_like_tls

TIMEOUT = 10.0


class EchoScheme(FakeServer):
    """Answers every request with the scheme it arrived by."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.seen: List[str] = []

    def handle(self, request: Request) -> Response:
        self.seen.append(request.scheme)
        return Response.text(200, request.scheme)


@pytest.fixture
def server(ca: TestCA) -> Iterator[EchoScheme]:
    fake = EchoScheme(tls=ca, ssl_downgrade=True).start()
    try:
        yield fake
    finally:
        fake.stop()
    fake.check()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _get(connection: http.client.HTTPConnection) -> str:
    try:
        connection.request("GET", "/scheme")
        response = connection.getresponse()
        assert response.status == 200
        return response.read().decode()
    finally:
        connection.close()


def test_one_port_serves_a_plain_client_and_a_tls_client(server: EchoScheme, ca: TestCA) -> None:
    assert _port(server.http_url) == _port(server.https_url)
    assert server.url == server.https_url and server.tls and server.ssl_downgrade
    port = _port(server.url)

    plain = _get(http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT))
    secure = _get(http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=ca.client_context()))

    assert (plain, secure) == ("http", "https")
    assert server.seen == ["http", "https"]


def test_keep_alive_stays_in_the_scheme_chosen_at_first(server: EchoScheme, ca: TestCA) -> None:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", _port(server.url), timeout=TIMEOUT, context=ca.client_context()
    )
    try:
        for _ in range(3):
            connection.request("GET", "/again")
            response = connection.getresponse()
            assert response.read() == b"https"
    finally:
        connection.close()


def test_a_silent_connection_does_not_block_others(server: EchoScheme, ca: TestCA) -> None:
    """libprocess' ``SSLTest.SilentSocket``: a peer that sends nothing holds only itself."""
    silent = socket.create_connection(("127.0.0.1", _port(server.url)), timeout=TIMEOUT)
    try:
        port = _port(server.url)
        assert _get(http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)) == "http"
        assert _get(http.client.HTTPSConnection("127.0.0.1", port, timeout=TIMEOUT, context=ca.client_context())) == (
            "https"
        )
    finally:
        silent.close()


def test_stop_ends_a_connection_still_waiting_for_its_first_bytes(ca: TestCA) -> None:
    fake = EchoScheme(tls=ca, ssl_downgrade=True).start()
    silent = socket.create_connection(("127.0.0.1", _port(fake.url)), timeout=TIMEOUT)
    try:
        stopped = threading.Event()
        threading.Thread(target=lambda: (fake.stop(), stopped.set()), daemon=True).start()
        assert stopped.wait(TIMEOUT)
        assert silent.recv(1) == b""  # closed by the server
    except ConnectionResetError:
        pass  # an abortive close is as good
    finally:
        silent.close()
    fake.check()


def test_an_untrusting_tls_client_is_a_tls_failure_not_a_plain_request(server: EchoScheme) -> None:
    stranger = ssl.create_default_context()  # trusts the system CAs, not ours
    with pytest.raises(ssl.SSLError):
        _get(http.client.HTTPSConnection("127.0.0.1", _port(server.url), timeout=TIMEOUT, context=stranger))
    assert server.seen == []


def test_without_downgrade_tls_and_plain_have_ports_of_their_own(ca: TestCA) -> None:
    fake = EchoScheme(tls=ca).start()
    try:
        assert _port(fake.http_url) != _port(fake.https_url)
        assert not fake.ssl_downgrade
        # The TLS port takes no plain request: libprocess without downgrade fails it too.
        connection = http.client.HTTPConnection("127.0.0.1", _port(fake.https_url), timeout=TIMEOUT)
        with pytest.raises((http.client.HTTPException, OSError)):
            _get(connection)
    finally:
        fake.stop()


def test_downgrade_without_tls_is_plain_http_only() -> None:
    fake = EchoScheme(ssl_downgrade=True).start()
    try:
        assert fake.url == fake.http_url and not fake.tls and not fake.ssl_downgrade
        assert _get(http.client.HTTPConnection("127.0.0.1", _port(fake.url), timeout=TIMEOUT)) == "http"
        with pytest.raises(AttributeError):
            _ = fake.https_url
    finally:
        fake.stop()


@pytest.mark.parametrize(
    ("first_bytes", "tls"),
    [
        (b"", False),  # nothing (closed peer): rule 1
        (b"\x16", False),  # one byte: rule 1 (the code tests size < 2)
        (b"\x16\x03\x01\x02\x00\x01", True),  # TLS record, handshake, ClientHello: rule 3
        (b"\x16\x03\x03\x00\x10\x01", True),  # any minor version
        (b"\x16\x03\x01\x02\x00\x02", False),  # a handshake that is not a ClientHello
        (b"\x16\x02\x01\x02\x00\x01", False),  # major version 2 in an SSL3 record
        (b"\x80\x2e\x01\x03\x01\x00", True),  # SSLv2-style ClientHello: rule 2
        (b"\x80\x2e\x02", False),  # high bit without ClientHello
        (b"\x16\x03\x01", False),  # a short peek: byte 5 missing counts as no match
        (b"GET / HTTP/1.1\r\n", False),  # rule 4
        (b"POST /api/v1/scheduler", False),
    ],
)
def test_the_peek_rules_of_libprocess(first_bytes: bytes, tls: bool) -> None:
    assert looks_like_tls(first_bytes) is tls


def test_python_clienthello_is_seen_as_tls(ca: TestCA) -> None:
    """The first bytes our own TLS client sends match rule 3."""
    incoming = ssl.MemoryBIO()
    outgoing = ssl.MemoryBIO()
    client = ca.client_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    assert looks_like_tls(outgoing.read()[:6])
