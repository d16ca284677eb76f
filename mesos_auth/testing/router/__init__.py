"""A fake Admin Router: the one cluster URL of a fake DC/OS cluster.

- ``server``: :class:`FakeRouter`, the HTTP(S) server and its records;
- ``routes``: which location a path falls in (the route table);
- ``auth``: the token check Admin Router makes before proxying;
- ``proxy``: forwarding to the upstream fakes, streams unbuffered.
"""

from mesos_auth.testing.router.routes import CA_PATH, IAM_PREFIX, MESOS_PREFIX
from mesos_auth.testing.router.server import FakeRouter, RouterEvent

__all__ = ["CA_PATH", "IAM_PREFIX", "MESOS_PREFIX", "FakeRouter", "RouterEvent"]
