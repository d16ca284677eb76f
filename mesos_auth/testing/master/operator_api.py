"""The fake master's v1 operator API, ``POST /api/v1`` (apache/mesos ``src/master/http.cpp``, ``Master::Http::api``).

``Master::initialize`` routes ``/api/v1`` with ``READWRITE_HTTP_AUTHENTICATION_REALM``,
so libprocess authenticates first, as for the scheduler API (one authenticator,
``auth.py``: 401 with ``WWW-Authenticate`` per security mode). libprocess finds a
handler by the longest routed prefix of the path (``ProcessBase::_consume`` in
``3rdparty/libprocess/src/process.cpp``), which is why pymesos' ``/api/v1/operator``
reaches this same handler on a real master. Then ``Master::Http::api``, in its order:

1. not the leader: 307 to ``//<leader host:port><the request's path>`` (``Master::Http::redirect``),
   or 503 "No leader elected" when no leader is known;
2. recovering: 503 "Master has not finished recovery";
3. not POST: 405; no ``Content-Type``: 400 "Expecting 'Content-Type' to be present";
   neither JSON nor protobuf: 415 (the fake speaks JSON only);
4. the body: 400 "Failed to parse body into JSON: ...", 400 "Failed to convert JSON
   into Call protobuf: Failed to find enum for '<type>'" (stout's ``protobuf::parse``),
   400 "Failed to validate master::Call: Expecting '<payload>' to be present"
   (``validation::master::call::validate``);
5. an ``Accept`` that allows neither JSON nor protobuf: 406;
6. the call: ``UNKNOWN`` 501 (``NotImplemented()``, empty body); the read calls answer
   200 with a ``mesos.v1.master.Response`` (``operator_views``); ``SUBSCRIBE`` opens the
   operator event stream (``operator_stream``).

(unverified, a limit of the fake) Calls that change the cluster (reserve, volumes,
maintenance, quota, weights, logging level, TEARDOWN, MARK_AGENT_GONE, agent
draining) and GET_METRICS, LIST_FILES, READ_FILE are answered 501 "The fake master
does not model <type>". A strict DC/OS master also filters the read calls by the
caller's ``VIEW_*`` permissions and refuses GET_FLAGS without ``VIEW_FLAGS`` (403);
the fake does not.
"""

from __future__ import annotations

import json
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from mesos_auth.testing._server import Answer, Response
from mesos_auth.testing.master.checks import (
    FOLLOWER,
    JSON,
    NO_LEADER,
    SCHEDULER_PATH,
    Exchange,
    accepts_json,
    check_content_type,
    check_method,
)
from mesos_auth.testing.master.operator_stream import subscribe
from mesos_auth.testing.master.operator_views import ClusterView, response

if TYPE_CHECKING:
    from mesos_auth.testing.master.server import FakeMaster

__all__ = ["CALL_TYPES", "OPERATOR_PATH", "answer", "serves"]

OPERATOR_PATH = "/api/v1"
PARSE_PREFIX = "Failed to convert JSON into Call protobuf: "
VALIDATE_PREFIX = "Failed to validate master::Call: "

#: ``mesos.v1.master.Call.Type`` at the DC/OS 2.2 commit.
CALL_TYPES = frozenset(
    (
        "UNKNOWN",
        "GET_HEALTH",
        "GET_FLAGS",
        "GET_VERSION",
        "GET_METRICS",
        "GET_LOGGING_LEVEL",
        "SET_LOGGING_LEVEL",
        "LIST_FILES",
        "READ_FILE",
        "GET_STATE",
        "GET_AGENTS",
        "GET_FRAMEWORKS",
        "GET_EXECUTORS",
        "GET_OPERATIONS",
        "GET_TASKS",
        "GET_ROLES",
        "GET_WEIGHTS",
        "UPDATE_WEIGHTS",
        "GET_MASTER",
        "SUBSCRIBE",
        "RESERVE_RESOURCES",
        "UNRESERVE_RESOURCES",
        "CREATE_VOLUMES",
        "DESTROY_VOLUMES",
        "GROW_VOLUME",
        "SHRINK_VOLUME",
        "GET_MAINTENANCE_STATUS",
        "GET_MAINTENANCE_SCHEDULE",
        "UPDATE_MAINTENANCE_SCHEDULE",
        "START_MAINTENANCE",
        "STOP_MAINTENANCE",
        "DRAIN_AGENT",
        "DEACTIVATE_AGENT",
        "REACTIVATE_AGENT",
        "GET_QUOTA",
        "UPDATE_QUOTA",
        "SET_QUOTA",
        "REMOVE_QUOTA",
        "TEARDOWN",
        "MARK_AGENT_GONE",
    )
)

#: Calls whose payload ``validation::master::call::validate`` requires.
_PAYLOAD_REQUIRED = frozenset(
    (
        "GET_METRICS",
        "SET_LOGGING_LEVEL",
        "LIST_FILES",
        "READ_FILE",
        "UPDATE_WEIGHTS",
        "RESERVE_RESOURCES",
        "UNRESERVE_RESOURCES",
        "CREATE_VOLUMES",
        "DESTROY_VOLUMES",
        "GROW_VOLUME",
        "SHRINK_VOLUME",
        "UPDATE_MAINTENANCE_SCHEDULE",
        "START_MAINTENANCE",
        "STOP_MAINTENANCE",
        "DRAIN_AGENT",
        "DEACTIVATE_AGENT",
        "REACTIVATE_AGENT",
        "UPDATE_QUOTA",
        "SET_QUOTA",
        "REMOVE_QUOTA",
        "TEARDOWN",
        "MARK_AGENT_GONE",
    )
)

#: When each master first answered an operator call: its ``GET_MASTER`` start and elected time (unverified).
_STARTED: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def serves(path: str) -> bool:
    """Whether a real master's ``/api/v1`` handler gets ``path`` (libprocess' longest-prefix routing)."""
    return path == OPERATOR_PATH or (path.startswith(OPERATOR_PATH + "/") and not _is_scheduler(path))


def _is_scheduler(path: str) -> bool:
    return path == SCHEDULER_PATH or path.startswith(SCHEDULER_PATH + "/")


def answer(master: FakeMaster, exchange: Exchange) -> Answer:
    """The answer to one operator API request."""
    checks = master._checks
    refusal = checks.check_authentication(exchange)
    if refusal is not None:
        return refusal
    refusal = _leadership(master, exchange)
    if refusal is None:
        refusal = checks.check_recovery(exchange) or check_method(exchange) or check_content_type(exchange)
    if refusal is not None:
        return refusal
    parsed = _parse(exchange)
    if isinstance(parsed, Response):
        return parsed
    call = parsed
    if not accepts_json(exchange.request.header("Accept")):
        return Response.text(406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")
    kind = str(call["type"])
    if kind == "UNKNOWN":
        return Response(501)
    if kind == "SUBSCRIBE":
        return subscribe(master, JSON)
    handler = _READS.get(kind)
    if handler is None:
        return Response.text(501, f"The fake master does not model {kind}")
    return Response.json(200, handler(master))


def _leadership(master: FakeMaster, exchange: Exchange) -> Optional[Response]:
    """``Master::Http::redirect``: the leader's address and the request's own path and query."""
    checks = master._checks
    with master._changed:
        if checks.leadership == NO_LEADER:
            return Response.text(503, "No leader elected")
        if checks.leadership != FOLLOWER:
            return None
        base = checks.leader_location(exchange.request.scheme)[: -len(SCHEDULER_PATH)]
    request = exchange.request
    target = request.path + (f"?{request.query}" if request.query else "")
    return Response(307, b"", [("Location", base + target)])


def _parse(exchange: Exchange) -> Any:
    """The call (a dict with a known ``type``), or the 400 that refuses the body."""
    try:
        call = json.loads(exchange.request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return Response.text(400, f"Failed to parse body into JSON: {exc}")
    if not isinstance(call, dict):
        return Response.text(400, PARSE_PREFIX + "Expecting a JSON object")  # (unverified) wording
    kind = call.get("type")
    exchange.call_type = kind if isinstance(kind, str) else None
    if kind is not None and (not isinstance(kind, str) or kind not in CALL_TYPES):
        return Response.text(400, PARSE_PREFIX + f"Failed to find enum for '{kind}'")
    exchange.call = call
    if kind is None:
        return Response.text(400, VALIDATE_PREFIX + "Expecting 'type' to be present")
    payload = kind.lower()
    if kind in _PAYLOAD_REQUIRED and not isinstance(call.get(payload), dict):
        return Response.text(400, VALIDATE_PREFIX + f"Expecting '{payload}' to be present")
    return call


# -- the read calls ------------------------------------------------------------------------


def _started(master: FakeMaster) -> float:
    return _STARTED.setdefault(master, time.time())


def _health(master: FakeMaster) -> Dict[str, Any]:
    return response("GET_HEALTH", {"healthy": True})


def _version(master: FakeMaster) -> Dict[str, Any]:
    """``GET_VERSION``: the ``VersionInfo`` that ``/version`` shows (``routes.version_answer``)."""
    release = master.release
    info = {
        "version": release.version,
        "build_date": "2020-11-19 10:00:00",  # (unverified) as /version
        "build_time": 1605780000.0,
        "build_user": "fake-mesos",
        "git_sha": release.commit,
        "git_tag": release.version,
    }
    return response("GET_VERSION", {"version_info": info})


def _flags(master: FakeMaster) -> Dict[str, Any]:
    """``GET_FLAGS``: a few flags a DC/OS master runs with (unverified values, chosen per security mode)."""
    checks = master.security_mode != "disabled"
    flags: Tuple[Tuple[str, str], ...] = (
        ("allocation_interval", f"{master.allocation_interval:g}secs"),
        ("authenticate_agents", _bool(checks)),
        ("authenticate_frameworks", _bool(checks)),
        ("authenticate_http_frameworks", _bool(checks)),
        ("authenticate_http_readonly", _bool(checks)),
        ("authenticate_http_readwrite", _bool(checks)),
        ("hostname", "127.0.0.1"),
        ("port", str(master.port())),
    )
    return response("GET_FLAGS", {"flags": [{"name": name, "value": text} for name, text in flags]})


def _bool(flag: bool) -> str:
    return "true" if flag else "false"


def _master(master: FakeMaster) -> Dict[str, Any]:
    started = _started(master)
    info = master._master_info("https" if master.url.startswith("https:") else "http")
    return response("GET_MASTER", {"master_info": info, "start_time": started, "elected_time": started})


def _view(build: Callable[[ClusterView], Dict[str, Any]], kind: str) -> Callable[[FakeMaster], Dict[str, Any]]:
    return lambda master: response(kind, build(ClusterView.of(master)))


_READS: Dict[str, Callable[[FakeMaster], Dict[str, Any]]] = {
    "GET_HEALTH": _health,
    "GET_VERSION": _version,
    "GET_FLAGS": _flags,
    "GET_MASTER": _master,
    "GET_STATE": _view(ClusterView.get_state, "GET_STATE"),
    "GET_TASKS": _view(ClusterView.get_tasks, "GET_TASKS"),
    "GET_FRAMEWORKS": _view(ClusterView.get_frameworks, "GET_FRAMEWORKS"),
    "GET_AGENTS": _view(ClusterView.get_agents, "GET_AGENTS"),
    "GET_EXECUTORS": _view(ClusterView.get_executors, "GET_EXECUTORS"),
    "GET_ROLES": _view(ClusterView.get_roles, "GET_ROLES"),
    # Nothing of these is modelled: the empty answers of a master without any.
    "GET_OPERATIONS": lambda master: response("GET_OPERATIONS", {}),
    "GET_WEIGHTS": lambda master: response("GET_WEIGHTS", {}),
    "GET_LOGGING_LEVEL": lambda master: response("GET_LOGGING_LEVEL", {"level": 0}),
    "GET_MAINTENANCE_STATUS": lambda master: response("GET_MAINTENANCE_STATUS", {"status": {}}),
    "GET_MAINTENANCE_SCHEDULE": lambda master: response("GET_MAINTENANCE_SCHEDULE", {"schedule": {}}),
    "GET_QUOTA": lambda master: response("GET_QUOTA", {"status": {}}),
}
