"""The fake master's v1 operator API, ``POST /api/v1`` (apache/mesos ``src/master/http.cpp``, ``Master::Http::api``).

A placeholder until the operator calls are modelled: every request is answered 404,
as a master without the route would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesos_auth.testing._server import Answer, Response
from mesos_auth.testing.master.checks import Exchange

if TYPE_CHECKING:
    from mesos_auth.testing.master.server import FakeMaster

OPERATOR_PATH = "/api/v1"


def answer(master: FakeMaster, exchange: Exchange) -> Answer:
    """The answer to one operator API request."""
    return Response.text(404, "")
