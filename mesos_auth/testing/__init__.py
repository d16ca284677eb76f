"""Test doubles of a DC/OS cluster: a fake IAM, a fake Mesos master, a fake Admin Router, a test CA.

They are real servers on 127.0.0.1 (HTTP and HTTPS), faithful to the wire
contract, usable with or without pytest. :class:`FakeCluster` wires an IAM, a
master and Admin Router (the one cluster URL) together for one security mode. The pytest fixtures (``mesos_cluster``,
...) live in ``mesos_auth.testing.pytest_plugin``, which pytest loads through its
``pytest11`` entry point; it is not imported here.

Importing this package imports nothing else: each name is loaded from its module
when first used (as in ``mesos_auth/__init__``). Why: pytest imports
``mesos_auth.testing.pytest_plugin`` in every run where mesos-auth is installed,
and with it this package; the fakes (cryptography, requests, the servers: about
0.3 s) must load only when a test asks for them.
"""

from typing import TYPE_CHECKING, Any, List

if TYPE_CHECKING:
    from mesos_auth.testing._server import FakeServerError
    from mesos_auth.testing.agent import FakeAgent
    from mesos_auth.testing.cluster import FakeCluster
    from mesos_auth.testing.errors import TokenRejected
    from mesos_auth.testing.iam import FakeIAM, IAMEvent
    from mesos_auth.testing.master import FakeMaster
    from mesos_auth.testing.router import FakeRouter
    from mesos_auth.testing.tls import TestCA
    from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable

#: Where each public name lives, imported on first use.
_LAZY = {
    "FakeServerError": "mesos_auth.testing._server",
    "FakeAgent": "mesos_auth.testing.agent",
    "FakeCluster": "mesos_auth.testing.cluster",
    "TokenRejected": "mesos_auth.testing.errors",
    "FakeIAM": "mesos_auth.testing.iam",
    "IAMEvent": "mesos_auth.testing.iam",
    "FakeMaster": "mesos_auth.testing.master",
    "FakeRouter": "mesos_auth.testing.router",
    "TestCA": "mesos_auth.testing.tls",
    "ZooKeeperServer": "mesos_auth.testing.zookeeper",
    "ZooKeeperUnavailable": "mesos_auth.testing.zookeeper",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mesos_auth.testing' has no attribute {name!r}")


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(_LAZY))


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
