"""``POST /api/v1/executor`` of a fake agent, checked in the order of ``Http::executor``
(apache/mesos ``src/slave/http.cpp``, DC/OS 2.2's Mesos):

1. with ``authenticate_http_executors``, the realm ``mesos-agent-executor``
   authenticates first (``tokens.py``: 401 with ``WWW-Authenticate: Bearer
   realm="mesos-agent-executor"`` and, for a bad token, ``error="invalid_token"``
   and the JWT error; body "401 Unauthorized.");
2. method: 405 "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'.";
3. ``Content-Type``: absent 400 "Expecting 'Content-Type' to be present"; JSON that does
   not parse 400 "Failed to parse body into JSON: ..."; missing ``executor_id`` /
   ``framework_id`` (required in the proto) 400 "Failed to convert JSON into Call
   protobuf: Missing required fields: ..."; another type 415 "Expecting 'Content-Type'
   of application/json or application/x-protobuf";
4. ``validateExecutorCall`` (``src/common/validation.cpp``): 400 "Failed to validate
   Executor::Call: <why>";
5. SUBSCRIBE whose ``Accept`` allows no JSON: 406; HEARTBEAT: 202 at once (before any
   lookup or claim check);
6. framework then executor unknown: 400 "Framework cannot be found" / "Executor
   cannot be found";
7. a token for another framework, executor or container: 403 (``verifyExecutorClaims``);
8. any call but SUBSCRIBE from an executor that has not subscribed: 403 "Executor is
   not subscribed";
9. SUBSCRIBE: 200 and the event stream (``Content-Type: application/json``, RecordIO);
   UPDATE and MESSAGE: 202.

(unverified simplifications) Protobuf bodies are not parsed: the fake speaks JSON
(400 "Failed to parse body into Call protobuf"); a SUBSCRIBE that accepts only
protobuf gets the 406. Only the JWT authenticator guards the realm: with Mesos'
default ``basic,jwt`` (no ``--http_authenticators``) the challenge also names Basic.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any, Dict, Optional

from mesos_auth.testing._server import Answer, Request, Response, Streaming
from mesos_auth.testing.agent.core import AgentCore
from mesos_auth.testing.agent.runs import REGISTERING, ExecutorRun
from mesos_auth.testing.agent.tokens import TokenRefused, claims_error
from mesos_auth.testing.master.checks import accepts_json

EXECUTOR_PATH = "/api/v1/executor"
JSON_TYPE = "application/json"
PROTOBUF_TYPE = "application/x-protobuf"

CALL_TYPES = ("SUBSCRIBE", "UPDATE", "MESSAGE", "HEARTBEAT", "UNKNOWN")


def _bad(text: str) -> Response:
    return Response.text(400, text)


def _value(call: Dict[str, Any], name: str) -> Optional[str]:
    field = call.get(name)
    value = field.get("value") if isinstance(field, dict) else None
    return value if isinstance(value, str) else None


def _uuid_error(text: Any) -> Optional[str]:
    """``id::UUID::fromBytes``: 16 bytes of a known UUID version, else "Not a valid UUID"."""
    try:
        raw = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        return "Not a valid UUID"
    if len(raw) != 16 or not 1 <= raw[6] >> 4 <= 5:
        return "Not a valid UUID"
    return None


def validate_call(call: Dict[str, Any]) -> Optional[str]:
    """``validateExecutorCall``: why a call is invalid, or None."""
    kind = call.get("type")
    if kind is None:
        return "Expecting 'type' to be present"
    executor_id, framework_id = _value(call, "executor_id"), _value(call, "framework_id")
    if kind == "SUBSCRIBE" and not isinstance(call.get("subscribe"), dict):
        return "Expecting 'subscribe' to be present"
    if kind == "MESSAGE" and not isinstance(call.get("message"), dict):
        return "Expecting 'message' to be present"
    if kind != "UPDATE":
        return None
    update = call.get("update")
    status = update.get("status") if isinstance(update, dict) else None
    if not isinstance(status, dict):
        return "Expecting 'update' to be present"
    if "uuid" not in status:
        return "Expecting 'uuid' to be present"
    error = _uuid_error(status["uuid"])
    if error is not None:
        return error
    status_executor = _value(status, "executor_id")
    if status_executor is not None and status_executor != executor_id:
        return f"ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: {status_executor}"
    if status.get("source") != "SOURCE_EXECUTOR":
        return (
            f"Received Call from executor {executor_id} of framework {framework_id} "
            "with invalid source, expecting 'SOURCE_EXECUTOR'"
        )
    if status.get("state") == "TASK_STAGING":
        return f"Received TASK_STAGING from executor {executor_id} of framework {framework_id} which is not allowed"
    return None


def _parse(request: Request) -> Any:
    """The call, or the Response that refuses the body."""
    content_type = request.header("Content-Type")
    if content_type is None:
        return _bad("Expecting 'Content-Type' to be present")
    if content_type == PROTOBUF_TYPE:
        return _bad("Failed to parse body into Call protobuf")
    if content_type != JSON_TYPE:
        return Response.text(415, f"Expecting 'Content-Type' of {JSON_TYPE} or {PROTOBUF_TYPE}")
    try:
        call = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return _bad(f"Failed to parse body into JSON: {exc}")
    if not isinstance(call, dict):
        return _bad("Failed to convert JSON into Call protobuf: Expecting a JSON object")
    missing = [name for name in ("executor_id", "framework_id") if _value(call, name) is None]
    if missing:
        return _bad("Failed to convert JSON into Call protobuf: Missing required fields: " + ", ".join(missing))
    if call.get("type") is not None and call.get("type") not in CALL_TYPES:
        return _bad(f"Failed to convert JSON into Call protobuf: Failed to find enum for '{call.get('type')}'")
    return call


def answer(core: AgentCore, request: Request, *, authenticate: bool) -> Answer:
    claims: Optional[Dict[str, str]] = None
    if authenticate:
        try:
            claims = core.tokens.authenticate(request.header("Authorization"))
        except TokenRefused as refused:
            return Response(401, b"401 Unauthorized.", [("WWW-Authenticate", refused.challenge)])
    if request.method != "POST":
        body = f"405 Method Not Allowed. Expecting one of {{ 'POST' }}, but received '{request.method}'."
        return Response(405, body.encode(), [("Allow", "POST")])
    parsed = _parse(request)
    if isinstance(parsed, Response):
        return parsed
    call: Dict[str, Any] = parsed
    error = validate_call(call)
    if error is not None:
        return _bad("Failed to validate Executor::Call: " + error)
    kind = call["type"]
    if kind == "SUBSCRIBE" and not accepts_json(request.header("Accept")):
        return Response.text(406, f"Expecting 'Accept' to allow '{PROTOBUF_TYPE}' or '{JSON_TYPE}'")
    if kind == "HEARTBEAT":
        return Response(202)
    framework_id, executor_id = str(_value(call, "framework_id")), str(_value(call, "executor_id"))
    with core.lock:
        refusal = _lookup_refusal(core, framework_id, executor_id, claims)
        if isinstance(refusal, Response):
            return refusal
        run: ExecutorRun = refusal
        if run.state == REGISTERING and kind != "SUBSCRIBE":
            return Response.text(403, "Executor is not subscribed")
        if kind == "SUBSCRIBE":
            stream = core.hub.new_stream(str(uuid.uuid4()))
            core.subscribe(run, stream, call["subscribe"])
        elif kind == "UPDATE":
            core.update(run, call["update"]["status"])
        elif kind == "MESSAGE":
            core.executor_message(run, str(call["message"].get("data", "")))
        else:
            return Response(501)  # UNKNOWN: NotImplemented
        core.lock.notify_all()
    core.flush()
    if kind == "SUBSCRIBE":
        return Streaming(200, [("Content-Type", JSON_TYPE)], lambda out: core.hub.serve(stream, out))
    return Response(202)


def _lookup_refusal(core: AgentCore, framework_id: str, executor_id: str, claims: Optional[Dict[str, str]]) -> Any:
    """The executor, or the 400/403 Response of the framework/executor lookup and the claim check."""
    if not any(key[0] == framework_id for key in core.executors):
        return _bad("Framework cannot be found")
    run = core.executor_run(framework_id, executor_id)
    if run is None:
        return _bad("Executor cannot be found")
    if claims is not None:
        error = claims_error(claims, framework_id, executor_id, run.container_id)
        if error is not None:
            return Response.text(403, error)
    return run
