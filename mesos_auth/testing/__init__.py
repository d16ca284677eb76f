"""Test doubles of a DC/OS cluster: a fake IAM, a fake Mesos master, a fake Admin Router, a test CA.

They are real servers on 127.0.0.1 (HTTP and HTTPS), faithful to the wire
contract, usable with or without pytest. :class:`FakeCluster` wires an IAM, a
master and Admin Router (the one cluster URL) together for one security mode. The pytest fixtures (``mesos_cluster``,
...) live in ``mesos_auth.testing.pytest_plugin``, which pytest loads through its
``pytest11`` entry point; it is not imported here.
"""

from mesos_auth.testing._server import FakeServerError
from mesos_auth.testing.agent import FakeAgent
from mesos_auth.testing.cluster import FakeCluster
from mesos_auth.testing.errors import TokenRejected
from mesos_auth.testing.iam import FakeIAM, IAMEvent
from mesos_auth.testing.master import FakeMaster
from mesos_auth.testing.router import FakeRouter
from mesos_auth.testing.tls import TestCA
from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable

__all__ = [
    "FakeAgent",
    "FakeCluster",
    "FakeIAM",
    "FakeMaster",
    "FakeRouter",
    "FakeServerError",
    "IAMEvent",
    "TestCA",
    "TokenRejected",
    "ZooKeeperServer",
    "ZooKeeperUnavailable",
]
