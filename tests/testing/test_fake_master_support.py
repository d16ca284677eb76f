"""Helpers for the FakeMaster tests (no tests here): a raw HTTP scheduler client,
a RecordIO event reader and a stub token verifier.

The client speaks the v1 scheduler API with ``http.client`` only, never pymesos,
so that the tests see the wire exactly: status lines, headers, chunked RecordIO.
Every socket has a timeout, so a missing event fails a test instead of hanging it.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from mesos_auth.testing.errors import TokenRejected
from mesos_auth.testing.master import SCHEDULER_PATH, FakeMaster

READ_TIMEOUT = 10.0
FRAMEWORK_INFO: Dict[str, Any] = {"user": "nobody", "name": "fake-master-test", "failover_timeout": 60.0}
_DEFAULT = object()

CLEAN = "clean"
ABRUPT = "abrupt"


class StubIAM:
    """A verifier by naming convention: ``valid:<uid>`` is good until revoked;
    ``expired``, ``revoked`` and anything else are rejected; ``boom`` raises a bug."""

    def __init__(self) -> None:
        self.revoked: Set[str] = set()
        self.verified: List[str] = []

    def verify_token(self, token: str) -> str:
        if token == "boom":
            raise RuntimeError("a bug in the verifier")
        if token in self.revoked:
            raise TokenRejected("revoked")
        if token == "expired":
            raise TokenRejected("expired")
        if token == "revoked":
            raise TokenRejected("revoked")
        if token.startswith("valid:") and len(token) > len("valid:"):
            uid = token[len("valid:") :]
            self.verified.append(uid)
            return uid
        raise TokenRejected("malformed")


class ACLStubIAM(StubIAM):
    """A StubIAM that also keeps ACLs, with FakeIAM's ``is_allowed`` rules in brief: the
    exact rid or a granted ``:``-prefix of it; ``full`` implies every action."""

    def __init__(self) -> None:
        super().__init__()
        self.granted: Set[Tuple[str, str, str]] = set()
        self.asked: List[Tuple[str, str, str]] = []

    def grant_permission(self, uid: str, rid: str, action: str, *, description: str = "") -> None:
        self.granted.add((uid, rid, action))

    def revoke_permission(self, uid: str, rid: str, action: str) -> None:
        self.granted.discard((uid, rid, action))

    def is_allowed(self, uid: str, rid: str, action: str) -> bool:
        self.asked.append((uid, rid, action))
        return any(
            who == uid and (rid == held or rid.startswith(held + ":")) and what in (action, "full")
            for who, held, what in self.granted
        )


def token_header(uid: str) -> str:
    return f"token=valid:{uid}"


@contextmanager
def serve(**options: Any) -> Iterator[FakeMaster]:
    """A started master, checked for server-side failures when the test is done."""
    master = FakeMaster(**options)
    with master:
        yield master
        master.check()


@dataclass
class Reply:
    status: int
    headers: Dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> Optional[str]:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class Client:
    """Raw HTTP to one listener of a master (``scheme``), with an optional Authorization."""

    def __init__(
        self,
        master: FakeMaster,
        *,
        scheme: str = "http",
        context: Optional[ssl.SSLContext] = None,
        authorization: Optional[str] = None,
    ) -> None:
        self.master = master
        self.scheme = scheme
        self.context = context
        self.authorization = authorization
        self.port = master.port(scheme)

    def connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=READ_TIMEOUT, context=self.context)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=READ_TIMEOUT)

    def _headers(self, headers: Optional[Dict[str, str]], authorization: Any) -> Dict[str, str]:
        merged = dict(headers or {})
        auth = self.authorization if authorization is _DEFAULT else authorization
        if auth is not None:
            merged["Authorization"] = auth
        return merged

    def request(
        self,
        method: str = "POST",
        body: Any = None,
        *,
        headers: Optional[Dict[str, str]] = None,
        content_type: Optional[str] = "application/json",
        path: str = SCHEDULER_PATH,
        authorization: Any = _DEFAULT,
    ) -> Reply:
        """One request on a fresh connection; ``body`` is JSON-encoded unless bytes."""
        all_headers = self._headers(headers, authorization)
        if content_type is not None:
            all_headers.setdefault("Content-Type", content_type)
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection = self.connection()
        try:
            connection.request(method, path, body=data, headers=all_headers)
            response = connection.getresponse()
            return Reply(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()

    def call(self, call: Dict[str, Any], *, stream_id: Optional[str] = None, authorization: Any = _DEFAULT) -> Reply:
        headers = {"Mesos-Stream-Id": stream_id} if stream_id is not None else {}
        return self.request("POST", call, headers=headers, authorization=authorization)

    def version(self) -> Reply:
        return self.request("GET", None, content_type=None, path="/version", authorization=None)

    def subscribe(
        self,
        framework_info: Optional[Dict[str, Any]] = None,
        *,
        framework_id: Optional[str] = None,
        headers: Optional[Dict[str, str]] = None,
        authorization: Any = _DEFAULT,
    ) -> Subscription:
        """Send SUBSCRIBE and keep the connection for the event stream (any status)."""
        info = dict(FRAMEWORK_INFO if framework_info is None else framework_info)
        call: Dict[str, Any] = {"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}
        if framework_id is not None:
            info["id"] = {"value": framework_id}
            call["framework_id"] = {"value": framework_id}
        all_headers = self._headers(headers, authorization)
        all_headers.setdefault("Content-Type", "application/json")
        all_headers.setdefault("Accept", "application/json")
        connection = self.connection()
        connection.request("POST", SCHEDULER_PATH, body=json.dumps(call).encode(), headers=all_headers)
        response = connection.getresponse()
        return Subscription(self, connection, response)


class Subscription:
    """One SUBSCRIBE answer; when 200, a reader of its RecordIO event stream."""

    def __init__(self, client: Client, connection: http.client.HTTPConnection, response: Any) -> None:
        self.client = client
        self.connection = connection
        self.response = response
        self.status: int = response.status
        self.headers = dict(response.getheaders())
        self.stream_id: Optional[str] = response.getheader("Mesos-Stream-Id")
        self.seen: List[Dict[str, Any]] = []
        self.framework_id: Optional[str] = None
        if self.status != 200:
            self.body = response.read()
            connection.close()

    # -- reading --------------------------------------------------------------------

    def next_event(self) -> Dict[str, Any]:
        """The next RecordIO record: ``<length>\\n<JSON>``. EOFError at the end of the stream."""
        digits = b""
        while True:
            byte = self.response.read(1)
            if not byte:
                raise EOFError("event stream ended")
            if byte == b"\n":
                break
            if not byte.isdigit():
                raise AssertionError(f"bad RecordIO length byte {byte!r} after {digits!r}")
            digits += byte
        data = self.response.read(int(digits))
        if len(data) != int(digits):
            raise AssertionError(f"short RecordIO record: {len(data)} of {int(digits)} bytes")
        event: Dict[str, Any] = json.loads(data.decode("utf-8"))
        self.seen.append(event)
        if event.get("type") == "SUBSCRIBED":
            self.framework_id = event["subscribed"]["framework_id"]["value"]
        return event

    def until(self, event_type: str, *, limit: int = 100, deadline: float = 20.0) -> Dict[str, Any]:
        """Read events until one of ``event_type`` comes (others are kept in ``seen``)."""
        end = time.monotonic() + deadline
        for _ in range(limit):
            if time.monotonic() > end:
                break
            event = self.next_event()
            if event.get("type") == event_type:
                return event
        raise AssertionError(f"no {event_type} event; saw {[e.get('type') for e in self.seen]}")

    def updates(self, count: int) -> List[Dict[str, Any]]:
        """The next ``count`` task statuses (UPDATE events), skipping other events."""
        return [self.until("UPDATE")["update"]["status"] for _ in range(count)]

    def subscribed(self) -> Dict[str, Any]:
        """Read SUBSCRIBED (must be first) and the HEARTBEAT that follows it at once."""
        first = self.next_event()
        assert first["type"] == "SUBSCRIBED", first
        second = self.next_event()
        assert second["type"] == "HEARTBEAT", second
        return first

    def end(self) -> str:
        """Read to the end of the stream: ``clean`` (closing chunk) or ``abrupt``; events kept."""
        try:
            while True:
                self.next_event()
        except EOFError:
            return CLEAN
        except (http.client.IncompleteRead, ConnectionError, ssl.SSLError):
            return ABRUPT

    # -- calls on this subscription ---------------------------------------------------

    def call(
        self,
        call_type: str,
        payload: Optional[Dict[str, Any]] = None,
        *,
        stream_id: Any = _DEFAULT,
        authorization: Any = _DEFAULT,
    ) -> Reply:
        assert self.framework_id is not None, "read SUBSCRIBED first"
        call: Dict[str, Any] = {"type": call_type, "framework_id": {"value": self.framework_id}}
        if payload is not None:
            call[call_type.lower()] = payload
        sid = self.stream_id if stream_id is _DEFAULT else stream_id
        return self.client.call(call, stream_id=sid, authorization=authorization)

    def close(self) -> None:
        self.connection.close()


def offers_of(event: Dict[str, Any]) -> List[Dict[str, Any]]:
    assert event["type"] == "OFFERS", event
    offers: List[Dict[str, Any]] = event["offers"]["offers"]
    return offers


def scalars(resources: List[Dict[str, Any]]) -> Dict[str, float]:
    return {r["name"]: r["scalar"]["value"] for r in resources}


def task_info(
    task_id: str, offer: Dict[str, Any], cpus: float = 0.5, mem: float = 128.0, disk: float = 0.0
) -> Dict[str, Any]:
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}}]
    resources.append({"name": "mem", "type": "SCALAR", "scalar": {"value": mem}})
    if disk:
        resources.append({"name": "disk", "type": "SCALAR", "scalar": {"value": disk}})
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": resources,
        "command": {"value": "true"},
    }


def launch(sub: Subscription, offer: Dict[str, Any], *tasks: Dict[str, Any], refuse_seconds: float = 0.0) -> Reply:
    """ACCEPT one offer with one LAUNCH of ``tasks``; leftovers unfiltered unless told."""
    payload = {
        "offer_ids": [offer["id"]],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": list(tasks)}}],
        "filters": {"refuse_seconds": refuse_seconds},
    }
    return sub.call("ACCEPT", payload)


def acknowledge(sub: Subscription, status: Dict[str, Any]) -> Reply:
    payload = {"agent_id": status["agent_id"], "task_id": status["task_id"], "uuid": status["uuid"]}
    return sub.call("ACKNOWLEDGE", payload)


def subscribed_framework(
    master: FakeMaster, client: Optional[Client] = None, info: Optional[Dict[str, Any]] = None
) -> Tuple[Subscription, Dict[str, Any]]:
    """Subscribe, read SUBSCRIBED + HEARTBEAT, and return the first OFFERS event too."""
    sub = (client or Client(master)).subscribe(info)
    assert sub.status == 200, getattr(sub, "body", b"")
    sub.subscribed()
    return sub, sub.until("OFFERS")
