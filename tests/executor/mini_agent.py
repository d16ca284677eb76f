"""Just enough of a Mesos agent's executor API (``POST /api/v1/executor``) to script one test.

:class:`MiniAgent` is a script for :class:`~tests.hostile.server.HostileServer`. SUBSCRIBE
gets a chunked RecordIO stream (SUBSCRIBED, then whatever the test :meth:`push`-es, until
the test :meth:`drop`-s the stream or the server stops); other calls get ``202``. With
``token`` set, requests are checked as the agent's JWT authenticator and
``verifyExecutorClaims`` answer (apache/mesos ``3rdparty/libprocess/src/jwt_authenticator.cpp``,
``src/slave/http.cpp``): no header is a bare 401 challenge, a wrong token a 401 with
``error="invalid_token"``, ``other_token`` (another executor's) a 403. Every request is recorded.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any, Callable, Dict, List, Optional

from tests.hostile.server import Peer, RawRequest, chunk, record, response

Event = Dict[str, Any]
CHALLENGE = 'Bearer realm="mesos-agent-executor"'
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"


def encode(event: Any) -> bytes:
    return chunk(record(json.dumps(event).encode()))


def subscribed_event(framework_id: str, executor_id: str) -> Event:
    return {
        "type": "SUBSCRIBED",
        "subscribed": {
            "executor_info": {"executor_id": {"value": executor_id}, "framework_id": {"value": framework_id}},
            "framework_info": {"id": {"value": framework_id}, "name": "test", "user": "nobody"},
            "agent_info": {"id": {"value": "agent-1"}, "hostname": "127.0.0.1"},
            "container_id": {"value": "container-1"},
        },
    }


class MiniAgent:
    """An agent of a few dozen lines. ``subscribe_answer(peer, request, n)`` answers the n-th SUBSCRIBE."""

    def __init__(
        self,
        framework_id: str = "fw-1",
        executor_id: str = "ex-1",
        *,
        token: Optional[str] = None,
        other_token: Optional[str] = None,
    ) -> None:
        self.framework_id = framework_id
        self.executor_id = executor_id
        self.token = token
        self.other_token = other_token
        self.subscribes: List[RawRequest] = []
        self.calls: List[RawRequest] = []
        self.changed = threading.Condition()
        self._streams: List[queue.Queue[Optional[bytes]]] = []
        self.subscribe_answer: Callable[[Peer, RawRequest, int], None] = self.good_stream

    def __call__(self, peer: Peer) -> None:
        while not peer.stopped:
            request = peer.read_request()
            if request is None:
                return
            refusal = self._authenticate(request)
            kind = _call_type(request)
            with self.changed:
                (self.subscribes if kind == "SUBSCRIBE" else self.calls).append(request)
                number = len(self.subscribes)
                self.changed.notify_all()
            if refusal is not None:
                peer.send(refusal)
                return
            if kind == "SUBSCRIBE":
                self.subscribe_answer(peer, request, number)
                return
            if not peer.send(response(202)):
                return

    def _authenticate(self, request: RawRequest) -> Optional[bytes]:
        if self.token is None:
            return None
        header = request.header("authorization")
        if not header:
            return response(401, headers=[("WWW-Authenticate", CHALLENGE)])
        if header == f"Bearer {self.other_token}":
            text = (
                "Authenticated principal '{\"fid\":\"other\"}' does not contain an 'fid' claim with the "
                f"framework ID {self.framework_id}, which is set in the call"
            )
            return response(403, text.encode())
        if header != f"Bearer {self.token}":
            challenge = (
                f'{CHALLENGE},error="invalid_token",error_description="Invalid JWT: Token signature does not match"'
            )
            return response(401, headers=[("WWW-Authenticate", challenge)])
        return None

    # -- streams -------------------------------------------------------------------

    def good_stream(self, peer: Peer, request: RawRequest, number: int) -> None:
        """SUBSCRIBED, then the events pushed, until dropped or the server stops."""
        events: queue.Queue[Optional[bytes]] = queue.Queue()
        with self.changed:
            self._streams.append(events)
            self.changed.notify_all()
        if not peer.send(STREAM_HEAD) or not peer.send(encode(subscribed_event(self.framework_id, self.executor_id))):
            return
        while not peer.stopped:
            try:
                data = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if data is None or not peer.send(data):
                return

    def push(self, event: Event) -> None:
        """Send ``event`` on the newest stream."""
        with self.changed:
            self._streams[-1].put(encode(event))

    def drop(self) -> None:
        """End the newest stream (the agent closes the connection)."""
        with self.changed:
            self._streams[-1].put(None)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
        with self.changed:
            if not self.changed.wait_for(predicate, timeout=timeout):
                raise AssertionError(f"not within {timeout} s: {what or predicate}")

    def streams(self) -> int:
        with self.changed:
            return len(self._streams)


def _call_type(request: RawRequest) -> str:
    try:
        kind = json.loads(request.body).get("type", "")
    except (ValueError, AttributeError):
        return ""
    return kind if isinstance(kind, str) else ""


def body(request: RawRequest) -> Any:
    return json.loads(request.body)
