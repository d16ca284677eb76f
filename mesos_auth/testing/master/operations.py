"""Offer operations other than launches (RESERVE, UNRESERVE, CREATE, DESTROY, ...) on the fake master.

What the fake models of them is what a framework sees when it lacks a permission:

1. ``Master::accept`` first looks at an operation's ``id`` (operation feedback), per
   release (apache/mesos ``src/master/master.cpp``):

   - 1.4: ``Offer.Operation`` has no ``id`` yet; the JSON parser skips it;
   - 1.5: any ``id`` drops the operation: "The `id` field was set on this operation,
     but operation status updates are not yet supported";
   - 1.7: an ``id`` on the agent's default resources drops it: "Operation requested
     feedback, but it affects resources not managed by a resource provider";
   - 1.8 to 1.11: agents advertise AGENT_OPERATION_FEEDBACK and RESOURCE_PROVIDER
     (``src/slave/constants.cpp``), so the operation goes on.

2. ``Master::_accept`` authorizes it (``authorization.MasterAuthorizer``); refused, it
   is dropped with the release's text.

3. ``Master::drop`` logs, and from 1.7 on, when the operation has an ``id``, sends the
   (HTTP) framework an ``UPDATE_OPERATION_STATUS`` event with ``OPERATION_ERROR``, the
   ``operation_id`` and the message: no uuid (nothing to acknowledge), no agent id
   (``protobuf::createOperationStatus`` with only those three). Before 1.7 nothing is
   sent: "The framework will find out that the operation was dropped through
   subsequent offers."

(unverified) Not modelled: the validation of these operations
(``validation::operation::validate``, which 1.10+ runs before authorizing and older
releases after), their effect on resources (an authorized operation is recorded, the
offer's resources go back unchanged), and the agent's operation status updates for an
authorized operation with an ``id``. Dropped operations are kept in
``Model.dropped_operations`` for tests to read.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from mesos_auth.testing.master import events
from mesos_auth.testing.master.authorization import AUTHORIZED_OPERATIONS, MasterAuthorizer
from mesos_auth.testing.master.model import FrameworkState, Model
from mesos_auth.testing.master.versions import MesosRelease

__all__ = ["Operations"]

JSON = Dict[str, Any]

LAUNCHES = ("LAUNCH", "LAUNCH_GROUP")


class Operations:
    """The non-launch operations of one fake master. Call with the master's lock held."""

    def __init__(self, model: Model, release: MesosRelease, authorizer: MasterAuthorizer) -> None:
        self._model = model
        self._release = release
        self._authorizer = authorizer

    def id_error(self, operation: JSON) -> Optional[str]:
        """Step 1 for any operation: why ``Master::accept`` drops it for its ``id``, or None.

        Launches get the text as the message of their tasks' TASK_ERROR; the others are
        dropped (:meth:`drop`) with it.
        """
        kind = operation.get("type")
        if "id" not in operation or not self._release.operation_ids:
            return None
        if not self._release.operation_feedback:  # 1.5
            return "The `id` field was set on this operation, but operation status updates are not yet supported"
        if kind in LAUNCHES:
            return f"The `id` field cannot be set on {kind} operations"
        if not self._release.agent_operation_feedback:  # 1.7
            return "Operation requested feedback, but it affects resources not managed by a resource provider"
        return None

    def apply(self, framework: FrameworkState, operation: JSON) -> None:
        """Step 2: authorize (RESERVE, UNRESERVE, CREATE, DESTROY), then drop or record it."""
        if operation.get("type") in AUTHORIZED_OPERATIONS:
            refusal = self._authorizer.operation_refusal(framework.info, operation)
            if refusal is not None:
                self.drop(framework, operation, refusal)
                return
        self._model.ignored_operations.append(dict(operation))

    def drop(self, framework: FrameworkState, operation: JSON, message: str) -> None:
        """``Master::drop``: recorded; OPERATION_ERROR to the framework from 1.7 on, if it has an ``id``."""
        self._model.dropped_operations.append(
            {"framework_id": framework.framework_id, "operation": dict(operation), "message": message}
        )
        operation_id = operation.get("id")
        if self._release.operation_feedback and operation_id is not None:
            self._model.emit(framework, events.operation_error(operation_id, message))
