"""Just enough of a Mesos master (v1 scheduler API) to misbehave in one place at a time.

:class:`MiniMaster` is a script for :class:`~tests.hostile.server.HostileServer`:
``GET /version`` gets a version, SUBSCRIBE a chunked RecordIO stream
(``Mesos-Stream-Id``, SUBSCRIBED, then a HEARTBEAT every interval), other calls ``202``. Each test replaces one piece:
``subscribe_answer`` (what the n-th SUBSCRIBE gets) or ``call_answer``.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Callable, Dict, List, Optional

from tests.hostile.server import Peer, RawRequest, chunk, record, response

Event = Dict[str, Any]


def subscribed_event(framework_id: str = "fw-1", interval: Any = 0.5) -> Event:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {"framework_id": {"value": framework_id}, "heartbeat_interval_seconds": interval},
    }


def encode(event: Any) -> bytes:
    return record(json.dumps(event).encode())


STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nMesos-Stream-Id: stream-%d\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


class MiniMaster:
    """A Mesos master of a few dozen lines; every SUBSCRIBE and call is recorded."""

    def __init__(self, heartbeat: float = 0.5, version: str = "1.10.0") -> None:
        self.heartbeat = heartbeat
        self.version = version
        self.subscribes = 0
        self.calls: List[RawRequest] = []
        self.changed = threading.Condition()
        #: (peer, request, n) -> None: answers the n-th SUBSCRIBE (1-based); default: a good stream.
        self.subscribe_answer: Callable[[Peer, RawRequest, int], None] = self.good_stream
        #: (peer, request) -> bytes or None (None: say nothing, hold the connection).
        self.call_answer: Callable[[Peer, RawRequest], Optional[bytes]] = lambda peer, request: response(202)

    # -- the script ----------------------------------------------------------------

    def __call__(self, peer: Peer) -> None:
        while not peer.stopped:
            request = peer.read_request()
            if request is None:
                return
            if request.method == "GET" and request.path == "/version":
                if not peer.send(response(200, json.dumps({"version": self.version}).encode())):
                    return
                continue
            call = _call_type(request)
            if call == "SUBSCRIBE":
                with self.changed:
                    self.subscribes += 1
                    number = self.subscribes
                    self.changed.notify_all()
                self.subscribe_answer(peer, request, number)
                return  # a stream, however it ended, ends the connection
            with self.changed:
                self.calls.append(request)
                self.changed.notify_all()
            answer = self.call_answer(peer, request)
            if answer is None:
                peer.hold()
                return
            if not peer.send(answer):
                return

    # -- building blocks for subscribe_answer ------------------------------------------

    def good_stream(self, peer: Peer, request: RawRequest, number: int, *, first: Optional[List[bytes]] = None) -> None:
        """SUBSCRIBED (or the records in ``first``), then heartbeats until either side stops."""
        self.open_stream(peer, number)
        for data in first if first is not None else [encode(subscribed_event(interval=self.heartbeat))]:
            if not peer.send(chunk(data)):
                return
        self.heartbeats(peer)

    def misbehave_first(self, answer: Callable[[Peer, RawRequest, int], None], times: int = 1) -> None:
        """Answer the first ``times`` SUBSCRIBEs with ``answer``, every later one with a good stream."""

        def subscribe_answer(peer: Peer, request: RawRequest, number: int) -> None:
            if number <= times:
                answer(peer, request, number)
            else:
                self.good_stream(peer, request, number)

        self.subscribe_answer = subscribe_answer

    def open_stream(self, peer: Peer, number: int) -> bool:
        return peer.send(STREAM_HEAD % number)

    def heartbeats(self, peer: Peer) -> None:
        beat = chunk(encode({"type": "HEARTBEAT"}))
        while peer.send(beat) and not peer.server.stopping.wait(self.heartbeat):
            pass

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=timeout):
                raise AssertionError(f"not within {timeout} s: {what or predicate}")


def _call_type(request: RawRequest) -> str:
    try:
        kind = json.loads(request.body).get("type", "")
    except (ValueError, AttributeError):
        return ""
    return kind if isinstance(kind, str) else ""
