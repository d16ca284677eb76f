"""pytest fixtures for a fake DC/OS cluster (loaded through the ``pytest11`` entry point).

Fixtures only; nothing starts unless a test asks for one of them:

- ``mesos_cluster``: a started :class:`~mesos_auth.testing.FakeCluster`; strict
  mode with TLS unless the test says otherwise; ``mesos_cluster.url`` is its one
  cluster URL (the fake Admin Router);
- ``mesos_iam``, ``mesos_master``, ``mesos_router``: its :class:`FakeIAM`,
  :class:`FakeMaster` and :class:`~mesos_auth.testing.router.FakeRouter`;
- ``mesos_zookeeper``: a real ZooKeeper on 127.0.0.1 for the session
  (:class:`~mesos_auth.testing.ZooKeeperServer`, Debian's ``zookeeper`` package; the
  test is skipped, saying how to install it, where it is missing);
- ``mesos_service_account``: a fresh service account on that cluster, with a uid
  unique to the test, granted (in the IAM) the canonical strict-mode permissions
  for the role ``*`` and tasks run as ``nobody`` (``FakeCluster.create_service_account``):
  ``dcos:mesos:master:framework:role:* create``, ``...:task:user:nobody create`` and
  the ``reservation:principal`` / ``volume:principal`` ``delete`` of its uid. A test
  that needs other permissions grants them with ``mesos_iam.grant_permission`` or
  ``mesos_cluster.grant_permissions``.

Choosing the cluster, by indirect parametrisation::

    @pytest.mark.parametrize("mesos_cluster", ["strict", "permissive", "disabled"], indirect=True)
    @pytest.mark.parametrize("mesos_cluster", [{"security_mode": "permissive", "tls": False}], indirect=True)

or by a marker (on a test, a class or a module's ``pytestmark``)::

    @pytest.mark.mesos_cluster(security_mode="permissive", tls=False)
    @pytest.mark.mesos_cluster("disabled")

Several masters, found through ZooKeeper as on DC/OS (``mesos_cluster.zookeeper_url``
is the ``zk://`` URL to give the framework, ``mesos_cluster.fail_over()`` kills the
leader)::

    @pytest.mark.mesos_cluster(masters=3)

uses ``mesos_zookeeper`` (or ``zookeeper=<hosts>``) and a ZooKeeper path of the test's own.

A parameter overrides the marker, key by key. Clusters that differ only in
security mode and TLS are started once per session and reset before each test
(accounts and permissions are kept; uids are unique, so tests do not meet). Any other
option (``heartbeat_interval``, ``agents``, ``task_states``, ``task_state_delay``,
``failover_timeout``, ``allocation_interval``, ``mesos_version``,
``token_lifetime``, ``clock``, ``iam_clock``) gives the test a cluster of its own,
stopped after it: a shared one could not be reset to them.

The fixtures' masters make offers every ``FIXTURE_ALLOCATION_INTERVAL`` (0.05 s)
instead of Mesos' default second, so that tests do not wait for offer batches.
A test that wants another interval (Mesos' own 1.0, say, or a ``ManualClock``
driven one) asks for it: ``@pytest.mark.mesos_cluster(allocation_interval=1.0)``.

After each test that used the cluster, :meth:`FakeCluster.check` runs, so that a
failure inside a server thread fails the test (in its teardown).

Why the fakes are imported inside the fixtures: pytest imports this module in every
run of every project whose environment has mesos-auth installed (the ``pytest11``
entry point), whether or not a test uses a fixture. At module level it imports only
what registering the fixtures and the marker needs (pytest and the standard library),
so that such a run pays nothing for it; the fakes (cryptography, requests, the
servers: about 0.3 s) load when a test first asks for a fixture. The names below
under ``TYPE_CHECKING`` are for the annotations only, which pytest does not evaluate.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Tuple

import pytest

if TYPE_CHECKING:
    from mesos_auth.account import ServiceAccount
    from mesos_auth.security_mode import SecurityMode
    from mesos_auth.testing.cluster import FakeCluster
    from mesos_auth.testing.iam import FakeIAM
    from mesos_auth.testing.master import FakeMaster
    from mesos_auth.testing.router import FakeRouter
    from mesos_auth.testing.tls import TestCA
    from mesos_auth.testing.zookeeper import ZooKeeperServer

MARKER = "mesos_cluster"
#: ``SecurityMode.STRICT``'s value (a ``SecurityMode`` is a ``str``): parsed when a fixture is set up.
DEFAULT_SECURITY_MODE = "strict"
DEFAULT_TLS = True
#: Seconds between the fixture masters' offer batches (Mesos' default is 1.0).
FIXTURE_ALLOCATION_INTERVAL = 0.05

_serial = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(security_mode='strict', tls=True, **options): the fake DC/OS cluster that the "
        "mesos_cluster fixture gives this test (mesos_auth.testing.FakeCluster options)",
    )


class _ClusterPool:
    """The session's shared clusters, one per (security mode, TLS), with one CA for all."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._clusters: Dict[Tuple[SecurityMode, bool], FakeCluster] = {}
        self._ca: Optional[TestCA] = None

    def get(self, mode: SecurityMode, tls: bool) -> FakeCluster:
        from mesos_auth.testing.cluster import FakeCluster
        from mesos_auth.testing.tls import TestCA

        with self._lock:
            cluster = self._clusters.get((mode, tls))
            if cluster is None:
                if tls and self._ca is None:
                    self._ca = TestCA(self._factory.mktemp("mesos-ca"))
                cluster = FakeCluster(
                    mode,
                    tls=self._ca if tls and self._ca is not None else False,
                    directory=self._factory.mktemp(f"mesos-cluster-{mode.value}"),
                    allocation_interval=FIXTURE_ALLOCATION_INTERVAL,
                ).start()
                self._clusters[(mode, tls)] = cluster
            return cluster

    def stop_all(self) -> None:
        """Stop every cluster, even when one fails to stop (the first failure is raised after)."""
        with self._lock:
            clusters = list(self._clusters.values())
            self._clusters.clear()
        failures: List[BaseException] = []
        for cluster in clusters:
            try:
                cluster.stop()
            except Exception as exc:
                failures.append(exc)
        if failures:
            raise failures[0]


def _requested(request: pytest.FixtureRequest) -> Dict[str, Any]:
    """The cluster options of this test: the marker's, then the parameter's on top."""
    options: Dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        if len(marker.args) > 1:
            raise ValueError(f"@pytest.mark.{MARKER} takes at most one positional argument (security_mode)")
        if marker.args:
            options["security_mode"] = marker.args[0]
        options.update(marker.kwargs)
    param = getattr(request, "param", None)
    if isinstance(param, str):  # a SecurityMode is a str too
        options["security_mode"] = param
    elif isinstance(param, Mapping):
        options.update(param)
    elif param is not None:
        raise ValueError(
            f"mesos_cluster parameters are a security mode or a dict of FakeCluster options, not {param!r}"
        )
    return options


@pytest.fixture(scope="session")
def _mesos_cluster_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ClusterPool]:
    pool = _ClusterPool(tmp_path_factory)
    yield pool
    pool.stop_all()


@pytest.fixture
def mesos_cluster(
    request: pytest.FixtureRequest,
    _mesos_cluster_pool: _ClusterPool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FakeCluster]:
    """A started fake DC/OS cluster (strict, TLS unless asked otherwise), checked after the test."""
    from mesos_auth.security_mode import SecurityMode
    from mesos_auth.testing.cluster import FakeCluster

    options = _requested(request)
    mode = SecurityMode.parse(options.pop("security_mode", DEFAULT_SECURITY_MODE), f"@pytest.mark.{MARKER}")
    tls = options.pop("tls", DEFAULT_TLS)
    if options.get("allocation_interval") == FIXTURE_ALLOCATION_INTERVAL:
        del options["allocation_interval"]  # what the shared clusters have
    if not options and isinstance(tls, bool):
        cluster = _mesos_cluster_pool.get(mode, tls)
        cluster.reset()
        yield cluster
        cluster.check()
        return
    if options.get("masters", 1) != 1 or options.get("zookeeper") is not None:
        if options.get("zookeeper") is None:
            options["zookeeper"] = request.getfixturevalue("mesos_zookeeper")
        options.setdefault("zookeeper_path", f"/mesos-auth-tests/{next(_serial)}/mesos")
    options.setdefault("directory", tmp_path_factory.mktemp("mesos-cluster"))
    options.setdefault("allocation_interval", FIXTURE_ALLOCATION_INTERVAL)
    with FakeCluster(mode, tls=tls, **options) as own:
        yield own
        own.check()


@pytest.fixture(scope="session")
def mesos_zookeeper() -> Iterator[ZooKeeperServer]:
    """A real ZooKeeper on 127.0.0.1 (a free port, a temporary data directory) for the whole session;
    the test is skipped, with how to install it, where ZooKeeper or Java is missing."""
    with running_zookeeper() as server:
        yield server


@contextlib.contextmanager
def running_zookeeper() -> Iterator[ZooKeeperServer]:
    """A :class:`ZooKeeperServer` of its own for a ``with`` block (one a test may stop and restart),
    stopped after it; the test is skipped, saying how to install it, where ZooKeeper is missing."""
    from mesos_auth.testing.zookeeper import ZooKeeperServer, ZooKeeperUnavailable

    server = ZooKeeperServer()
    try:
        server.start()
    except ZooKeeperUnavailable as missing:
        server.stop()
        pytest.skip(str(missing))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mesos_iam(mesos_cluster: FakeCluster) -> FakeIAM:
    """The fake IAM of ``mesos_cluster``."""
    return mesos_cluster.iam


@pytest.fixture
def mesos_master(mesos_cluster: FakeCluster) -> FakeMaster:
    """The fake Mesos master of ``mesos_cluster``."""
    return mesos_cluster.master


@pytest.fixture
def mesos_router(mesos_cluster: FakeCluster) -> FakeRouter:
    """The fake Admin Router of ``mesos_cluster`` (its URL is ``mesos_cluster.url``)."""
    return mesos_cluster.router


@pytest.fixture
def mesos_service_account(request: pytest.FixtureRequest, mesos_cluster: FakeCluster) -> ServiceAccount:
    """A new service account on ``mesos_cluster``, its uid unique to this test, granted the canonical
    permissions for role ``*`` and task user ``nobody``."""
    return mesos_cluster.create_service_account(_unique_uid(request.node.name))


def _unique_uid(test_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:48] or "test"
    return f"{slug}-{next(_serial)}"
