"""pymesos installs and works on every supported Python (issue #2).

On 3.9 and 3.10 pymesos installs as published, with http-parser's C parser; on
3.11+ it installs through the pure-Python http-parser wheel that
mesos_auth/install_http_parser.py builds (``python -m mesos_auth.install_http_parser``,
or tools/http_parser_wheel.py in a checkout). These tests exercise the parser that the
install route chose, through pymesos' own stream reader, against a real
loopback server.
"""

from __future__ import annotations

import json
import select
import socket
import sys
import threading
import time
from typing import Any, Dict, List

import pytest

PURE_PARSER_EXPECTED = sys.version_info >= (3, 11)


def test_pymesos_imports_and_reports_its_http_parser() -> None:
    import http_parser.http
    import pymesos

    parser_module = http_parser.http.HttpParser.__module__
    print(f"pymesos {pymesos.__VERSION__} uses {parser_module} on Python {sys.version.split()[0]}")
    if PURE_PARSER_EXPECTED:
        assert parser_module == "http_parser.pyparser"
    else:
        assert parser_module == "http_parser.parser"


def test_scheduler_driver_can_be_constructed() -> None:
    from pymesos import MesosSchedulerDriver, Scheduler

    framework = {"user": "nobody", "name": "install-check"}
    driver = MesosSchedulerDriver(Scheduler(), framework, "127.0.0.1:5050", use_addict=True)
    assert driver.framework["name"] == "install-check"
    assert driver.framework["failover_timeout"] == 100  # pymesos' own default
    assert driver.master_uri == "127.0.0.1:5050"


def recordio(event: Dict[str, Any]) -> bytes:
    data = json.dumps(event).encode()
    return str(len(data)).encode() + b"\n" + data


def chunked(payload: bytes, sizes: List[int]) -> bytes:
    """Cut ``payload`` into HTTP chunks of the given sizes, cycling through them."""
    out = b""
    position = 0
    index = 0
    while position < len(payload):
        size = sizes[index % len(sizes)]
        piece = payload[position : position + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        position += size
        index += 1
    return out + b"0\r\n\r\n"


class _Callback:
    """The small surface pymesos' Connection calls back into."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.events: List[Dict[str, Any]] = []
        self.stream_id = None
        self.closed = False

    def gen_request(self) -> bytes:
        return self.request

    def process_event(self, event: Dict[str, Any]) -> None:
        self.events.append(event)

    def change_master(self, master: str) -> None:
        raise AssertionError(f"unexpected redirect to {master}")

    def on_close(self) -> None:
        self.closed = True


@pytest.fixture
def stream_server():
    """A real loopback server answering one request with a chunked RecordIO stream."""
    big_value = "x" * 1_000_000
    events: List[Dict[str, Any]] = [
        {"type": "SUBSCRIBED", "subscribed": {"framework_id": {"value": "fw-1"}, "heartbeat_interval_seconds": 15}},
        {"type": "HEARTBEAT"},
        {"type": "OFFERS", "offers": {"offers": [{"id": {"value": f"o-{i}"}} for i in range(50)]}},
        {"type": "MESSAGE", "message": {"data": big_value}},
        {"type": "HEARTBEAT"},
    ]
    body = b"".join(recordio(e) for e in events)
    # Odd chunk sizes put chunk boundaries inside length prefixes and records.
    response = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        b"Mesos-Stream-Id: 5e1d6c64-5b1c-4f5e-9d9e-0b0b0b0b0b0b\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body, [1, 7, 3, 4096, 65537])
    )
    listener = socket.create_server(("127.0.0.1", 0))
    received: List[bytes] = []

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            received.append(request)
            # Send in small writes so the reader sees many partial reads.
            for start in range(0, len(response), 8192):
                conn.sendall(response[start : start + 8192])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], events, received
    listener.close()
    thread.join(timeout=10)


def test_pymesos_reader_decodes_a_chunked_recordio_stream(stream_server) -> None:
    from pymesos.process import Connection

    port, expected_events, received = stream_server
    request = b"POST /api/v1/scheduler HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    callback = _Callback(request)
    connection = Connection(f"127.0.0.1:{port}", callback)
    deadline = time.monotonic() + 60
    open_ = True
    try:
        while open_ and time.monotonic() < deadline:
            want_write = [connection] if connection.want_write() or not connection.connected else []
            readable, writable, _ = select.select([connection], want_write, [], 1.0)
            if writable:
                if not connection.connected:
                    assert connection.handle_connect_event() == ""
                open_ = connection.write()
            if readable and connection.connected:
                open_ = connection.read()
    finally:
        connection.close()

    assert callback.events == expected_events
    assert callback.stream_id == "5e1d6c64-5b1c-4f5e-9d9e-0b0b0b0b0b0b"
    assert received and received[0].startswith(b"POST /api/v1/scheduler")
