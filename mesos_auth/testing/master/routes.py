"""Which paths the master serves besides the scheduler API, and what they answer.

- ``/version``: libprocess' version endpoint, without authentication;
- ``/master/state``: a small subset of Mesos' state, authenticated (a DC/OS API a
  service may call for itself, as ``examples/frameworks/call_dcos_api.py`` does);
- ``/master/state.json``: the same answer, only in the releases that still route it
  (Mesos before 1.8, :attr:`~mesos_auth.testing.master.versions.MesosRelease.serves_state_json`);
- anything else: 404 with an empty body.

``Master::initialize`` in apache/mesos ``src/master/master.cpp`` routes ``/state``
and ``/state.json`` to the same ``Http::state`` with the same authentication realm
(``READONLY_HTTP_AUTHENTICATION_REALM``), so the two answer alike.
"""

from __future__ import annotations

from typing import Dict, Iterable, Optional

from mesos_auth.testing._server import Request, Response
from mesos_auth.testing.master.records import FrameworkRecord, TaskRecord
from mesos_auth.testing.master.versions import MesosRelease

__all__ = ["STATE_JSON_PATH", "STATE_PATH", "VERSION_PATH", "state_answer", "state_path", "version_answer"]

VERSION_PATH = "/version"
#: Mesos' state endpoint (on DC/OS, /mesos/master/state through Admin Router):
#: an authenticated DC/OS API for a service's own calls, as in examples/frameworks/call_dcos_api.py.
STATE_PATH = "/master/state"
#: Its old name, routed until Mesos 1.8 removed it.
STATE_JSON_PATH = "/master/state.json"


def state_path(path: str, release: MesosRelease) -> bool:
    """Whether ``path`` is the state endpoint in ``release``."""
    return path == STATE_PATH or (path == STATE_JSON_PATH and release.serves_state_json)


def version_answer(request: Request, release: MesosRelease) -> Response:
    """libprocess' ``/version`` (``src/version/version.cpp``) of the chosen release."""
    wrong_method = _only_get(request)
    if wrong_method is not None:
        return wrong_method
    info = {
        "version": release.version,
        "build_date": "2020-11-19 10:00:00",  # (unverified) a fixed, plausible build
        "build_time": 1605780000.0,
        "build_user": "fake-mesos",
        "git_sha": release.commit,
        "git_tag": release.version,
    }
    return Response.json(200, info)


def state_answer(
    request: Request,
    master_id: str,
    version: str,
    frameworks: Iterable[FrameworkRecord],
    tasks: Dict[str, TaskRecord],
) -> Response:
    """A small subset of Mesos' ``/master/state``: the master and its frameworks."""
    wrong_method = _only_get(request)
    if wrong_method is not None:
        return wrong_method
    payload = [
        {
            "id": record.framework_id,
            "name": record.name,
            "principal": record.principal,
            "roles": list(record.roles),
            "active": record.state == "subscribed",
            "tasks": [t.task_id for t in tasks.values() if t.framework_id == record.framework_id],
        }
        for record in frameworks
    ]
    return Response.json(200, {"id": master_id, "version": version, "frameworks": payload})


def _only_get(request: Request) -> Optional[Response]:
    if request.method not in ("GET", "HEAD"):
        return Response.text(405, f"Expecting one of {{ 'GET' }}, but received '{request.method}'")
    return None
