"""How the master answers a scheduler call that passed ``checks``: SUBSCRIBE and the others.

As ``Master::Http::scheduler`` of apache/mesos ``src/master/http.cpp`` goes on after
the body validated:

- SUBSCRIBE: an ``Accept`` that does not allow JSON 406, a ``Mesos-Stream-Id`` header
  400, then a 200 stream with a new ``Mesos-Stream-Id``; the authenticated principal
  fills in an unset ``FrameworkInfo.principal``. Refusals arrive on that stream as an
  ERROR event before it closes, in the order of ``Master::subscribe`` and
  ``Master::_subscribe`` (``src/master/master.cpp``): "Framework has been removed"
  (``validateFramework``), then a failed authorization (``authorization``: the
  release's text, "Not authorized to use roles '{ r }'" up to 1.9, "Not authorized
  to register framework <id> with roles { r }" from 1.10), then a principal change
  ("Changing framework's principal is not allowed.", ``src/master/validation.cpp``).
- every other call: unknown framework 400, principal mismatch 400, framework not
  subscribed 403, missing or stale ``Mesos-Stream-Id`` 400, then 202, and the call
  acts on the cluster (``state``, ``allocator``, ``tasks``). TEARDOWN is authorized by
  nothing but that principal check (``Master::Http::scheduler``: ``case TEARDOWN:
  master->removeFramework(framework); return Accepted();``).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable, Dict, Mapping, Optional

from mesos_auth.testing._server import Answer, Request, Response, Streaming
from mesos_auth.testing.master.auth import AuthOutcome
from mesos_auth.testing.master.calls import id_value, principal_mismatch
from mesos_auth.testing.master.checks import JSON, accepts_json
from mesos_auth.testing.master.state import SUBSCRIBED, Cluster, FrameworkState
from mesos_auth.testing.master.streams import StreamHub

__all__ = ["SchedulerAPI"]


class SchedulerAPI:
    """Answers checked scheduler calls; ``lock`` is the master's, held while the cluster changes.

    ``master_info(scheme)`` is the ``MasterInfo`` a SUBSCRIBED event carries;
    ``authorize(framework_info)`` is the text of a refused authorization, or None.
    """

    def __init__(
        self,
        lock: threading.Condition,
        cluster: Cluster,
        hub: StreamHub,
        master_info: Callable[[str], Dict[str, Any]],
        authorize: Callable[[Mapping[str, Any]], Optional[str]],
    ) -> None:
        self._lock = lock
        self._cluster = cluster
        self._hub = hub
        self._master_info = master_info
        self._authorize = authorize

    def answer(self, request: Request, call: Dict[str, Any], auth: AuthOutcome) -> Answer:
        if call["type"] == "SUBSCRIBE":
            return self.subscribe(request, call, auth)
        return self.call(request, call, auth)

    # -- SUBSCRIBE ----------------------------------------------------------------------------

    def subscribe(self, request: Request, call: Dict[str, Any], auth: AuthOutcome) -> Answer:
        if not accepts_json(request.header("Accept")):
            return Response.text(406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'")
        if request.header("Mesos-Stream-Id") is not None:
            return Response.text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
        subscribe = call["subscribe"]
        info = dict(subscribe["framework_info"])
        if auth.principal is not None and not info.get("principal"):
            info["principal"] = auth.principal  # Mesos fills in the authenticated principal
        framework_id = id_value(call, "framework_id")
        with self._lock:
            stream = self._hub.new_stream(str(uuid.uuid4()))
            # Mesos' order: removed framework, then authorization, then principal change.
            refusal = (
                self._cluster.removed_error(framework_id)
                or self._authorize(info)
                or self._cluster.principal_change_error(framework_id, info)
            )
            if refusal is not None:
                stream.refuse(refusal)
            else:
                self._cluster.subscribe(
                    stream,
                    info,
                    framework_id,
                    auth.recorded_as,
                    self._master_info(request.scheme),
                    suppressed=bool(subscribe.get("suppressed_roles")),
                )
            self._lock.notify_all()
        headers = [("Content-Type", JSON), ("Mesos-Stream-Id", stream.stream_id)]
        return Streaming(200, headers, lambda out: self._hub.serve(stream, out))

    # -- the other calls --------------------------------------------------------------------------

    def call(self, request: Request, call: Dict[str, Any], auth: AuthOutcome) -> Answer:
        framework_id = id_value(call, "framework_id")
        with self._lock:
            framework = self._cluster.framework(framework_id)
            if framework is None:
                return Response.text(400, "Framework cannot be found")
            principal = auth.principal
            if principal is not None and principal != (framework.principal or ""):
                return Response.text(400, principal_mismatch(principal, framework.principal or ""))
            if framework.state != SUBSCRIBED or framework.stream is None:
                return Response.text(403, "Framework is not subscribed")
            stream_id = request.header("Mesos-Stream-Id")
            if stream_id is None:
                return Response.text(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
            if stream_id != framework.stream.stream_id:
                return Response.text(
                    400,
                    f"The stream ID '{stream_id}' included in this request didn't match the stream ID"
                    f" currently associated with framework ID {framework.framework_id}",
                )
            self._dispatch(framework, call)
            self._lock.notify_all()
        return Response(202)

    def _dispatch(self, framework: FrameworkState, call: Dict[str, Any]) -> None:
        kind = call["type"]
        allocator, tasks = self._cluster.allocator, self._cluster.tasks
        if kind == "TEARDOWN":
            self._cluster.teardown(framework)
        elif kind == "ACCEPT":
            tasks.accept(framework, call["accept"])
        elif kind == "DECLINE":
            allocator.decline(framework, call["decline"])
        elif kind == "REVIVE":
            allocator.revive(framework)
        elif kind == "SUPPRESS":
            allocator.suppress(framework)
        elif kind == "KILL":
            tasks.kill(framework, call["kill"])
        elif kind == "ACKNOWLEDGE":
            tasks.acknowledge(framework, call["acknowledge"])
        elif kind == "RECONCILE":
            tasks.reconcile(framework, call["reconcile"])
        elif kind == "MESSAGE":
            tasks.message(framework, call["message"])
        # (unverified) SHUTDOWN, REQUEST, inverse offers, operations and UPDATE_FRAMEWORK
        # are accepted (202) and recorded, but change nothing.
