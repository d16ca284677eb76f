"""Where the fake cluster runs: a Python process of its own (the default), or this one.

The soak measures the drivers' process (file descriptors, threads, memory), so the
fakes, whose records grow with every request by design, live in another process:
what is measured is then the drivers alone, and on a 2-core machine the fakes and
the drivers do not share one GIL.

Both hosts offer ``run(fn, *args, **kwargs)``: ``fn(cluster, *args, **kwargs)`` where
the cluster is, its result returned. ``fn`` is a module-level function (``faults``,
``invariants``), sent by reference, so every fault and every look at the masters is a
plain function on the :class:`~mesos_auth.testing.FakeCluster`.

The remote host is ``python -m bench.soak.host``: it reads its options and a random
authentication key as one JSON line on stdin, starts the cluster, prints ``READY
<port>``, and answers ``multiprocessing.connection`` clients (authenticated with the
key) on 127.0.0.1 until its stdin closes. Secrets cross that connection only.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import traceback
from dataclasses import asdict, dataclass
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ["ClusterOptions", "LocalCluster", "RemoteCluster", "RemoteError", "build_cluster"]

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Seconds the remote host may take to start (three masters, ZooKeeper, RSA keys).
START_TIMEOUT = 120.0


@dataclass(frozen=True)
class ClusterOptions:
    """The cluster the soak runs against (strict mode, TLS, ZooKeeper with several masters)."""

    frameworks: int = 2
    masters: int = 3
    heartbeat_interval: float = 0.2
    allocation_interval: float = 0.05
    token_lifetime: float = 120.0
    agent_cpus: float = 2.0
    agent_mem: float = 4096.0
    zookeeper_hosts: Optional[str] = None  # None: the host starts a ZooKeeper of its own
    zookeeper_path: str = "/mesos"

    def uids(self) -> List[str]:
        return [f"soak-{i}" for i in range(self.frameworks)]


class RemoteError(RuntimeError):
    """A function run on the cluster's host raised; the message holds its traceback."""


def build_cluster(options: ClusterOptions) -> Tuple[Any, Any, Dict[str, Any]]:
    """Start the cluster (and a ZooKeeper if needed); returns (cluster, zookeeper or None, info).

    ``info``: ``master`` (the zk:// URL, or the master's URL without ZooKeeper),
    ``ca_bundle``, ``secrets`` (uid -> the account's secret JSON, private key included:
    never print it), ``masters`` (how many), ``multi_master``.
    """
    from mesos_auth.testing import FakeCluster

    zookeeper = None
    hosts = options.zookeeper_hosts
    common: Dict[str, Any] = {
        "heartbeat_interval": options.heartbeat_interval,
        "allocation_interval": options.allocation_interval,
        "token_lifetime": options.token_lifetime,
        "agents": [{"cpus": options.agent_cpus, "mem": options.agent_mem, "disk": 1000.0}] * options.frameworks,
    }
    multi = options.masters > 1
    if multi and hosts is None:
        from mesos_auth.testing.zookeeper import ZooKeeperServer

        zookeeper = ZooKeeperServer().start()
        hosts = zookeeper.hosts
    try:
        if multi:
            try:
                cluster = FakeCluster(
                    "strict", masters=options.masters, zookeeper=hosts, zookeeper_path=options.zookeeper_path, **common
                )
            except TypeError:  # a FakeCluster of one master only: no failovers
                multi = False
                cluster = FakeCluster("strict", **common)
        else:
            cluster = FakeCluster("strict", **common)
        cluster.start()
        accounts = {uid: cluster.create_service_account(uid) for uid in options.uids()}
    except BaseException:
        if zookeeper is not None:
            zookeeper.stop()
        raise
    url = getattr(cluster, "zookeeper_url", None) if multi else None
    info = {
        "master": url or cluster.master_url,
        "ca_bundle": cluster.ca_bundle,
        "secrets": {uid: account.to_info() for uid, account in accounts.items()},
        "masters": len(getattr(cluster, "masters", None) or (cluster.master,)),
        "multi_master": bool(url),
    }
    return cluster, zookeeper, info


def stop_cluster(cluster: Any, zookeeper: Any) -> List[str]:
    """Stop both; what the fakes' threads recorded as failures (``FakeCluster.check``)."""
    problems: List[str] = []
    try:
        cluster.check()
    except Exception as exc:
        problems.append(str(exc))
    try:
        cluster.stop()
    finally:
        if zookeeper is not None:
            zookeeper.stop()
    return problems


class LocalCluster:
    """The cluster in this process (``--in-process``: simpler to debug, measured with the drivers)."""

    def __init__(self, options: ClusterOptions) -> None:
        self.options = options
        self._cluster, self._zookeeper, self.info = build_cluster(options)
        self.pid = os.getpid()

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return fn(self._cluster, *args, **kwargs)

    def close(self) -> List[str]:
        return stop_cluster(self._cluster, self._zookeeper)


class RemoteCluster:
    """The cluster in a child process (``python -m bench.soak.host``); one connection per thread."""

    def __init__(self, options: ClusterOptions) -> None:
        self.options = options
        self._key = secrets.token_bytes(32)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.soak.host"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(REPO_ROOT),
            env=env,
        )
        self.pid = self._process.pid
        self._local = threading.local()
        self._closed = False
        try:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.write(
                (json.dumps({"options": asdict(options), "key": self._key.hex()}) + "\n").encode()
            )
            self._process.stdin.flush()
            line = self._ready_line()
            if not line.startswith("READY "):
                raise RuntimeError(f"the cluster host did not start: {line!r}")
            self._port = int(line.split()[1])
            self.info: Dict[str, Any] = self.run(_info)
        except BaseException:
            self._kill()
            raise

    def _ready_line(self) -> str:
        result: List[str] = []

        def read() -> None:
            assert self._process.stdout is not None
            result.append(self._process.stdout.readline().decode("utf-8", "replace").strip())

        reader = threading.Thread(target=read, name="soak host start", daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if not result:
            raise RuntimeError(f"the cluster host did not start within {START_TIMEOUT:.0f} s")
        return result[0]

    def _connection(self) -> Connection:
        conn: Optional[Connection] = getattr(self._local, "conn", None)
        if conn is None:
            conn = Client(("127.0.0.1", self._port), authkey=self._key)
            self._local.conn = conn
        return conn

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise RuntimeError("the cluster host is closed")
        conn = self._connection()
        conn.send((fn, args, kwargs))
        status, value = conn.recv()
        if status != "ok":
            raise RemoteError(f"{getattr(fn, '__name__', fn)} failed on the cluster host:\n{value}")
        return value

    def close(self) -> List[str]:
        """Stop the cluster; the fakes' recorded failures. The child process is gone afterwards."""
        if self._closed:
            return []
        try:
            problems: List[str] = self.run(_shutdown)
        finally:
            self._closed = True
            self._kill()
        return problems

    def _kill(self) -> None:
        process = self._process
        try:
            if process.stdin is not None:
                process.stdin.close()  # the host stops at EOF
            process.wait(timeout=30)
        except Exception:
            process.kill()
            process.wait(timeout=10)
        finally:
            if process.stdout is not None:
                process.stdout.close()


# -- the host process -------------------------------------------------------------------------

_state: Dict[str, Any] = {}


def _info(cluster: Any) -> Dict[str, Any]:
    return dict(_state["info"])


def _shutdown(cluster: Any) -> List[str]:
    problems = stop_cluster(cluster, _state.pop("zookeeper", None))
    _state["stopped"] = True
    return problems


def _serve_connection(conn: Connection, cluster: Any) -> None:
    with conn:
        while True:
            try:
                fn, args, kwargs = conn.recv()
            except (EOFError, OSError):
                return
            try:
                reply: Tuple[str, Any] = ("ok", fn(cluster, *args, **kwargs))
            except BaseException:
                reply = ("error", traceback.format_exc())
            try:
                conn.send(reply)
            except (OSError, ValueError):
                return


def serve() -> None:
    """The host process: start the cluster, answer until stdin closes, stop it."""
    logging.basicConfig(level=logging.ERROR)
    config = json.loads(sys.stdin.readline())
    options = ClusterOptions(**config["options"])
    cluster, zookeeper, info = build_cluster(options)
    _state.update(info=info, zookeeper=zookeeper)
    listener = Listener(("127.0.0.1", 0), authkey=bytes.fromhex(config["key"]))

    def accept() -> None:
        while True:
            try:
                conn = listener.accept()
            except AuthenticationError:
                continue  # not the soak: it holds the key
            except OSError:
                return  # closed
            threading.Thread(target=_serve_connection, args=(conn, cluster), name="soak host", daemon=True).start()

    threading.Thread(target=accept, name="soak host accept", daemon=True).start()
    sys.stdout.write(f"READY {listener.address[1]}\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()  # until the soak closes it (or dies)
    finally:
        listener.close()
        if not _state.get("stopped"):
            stop_cluster(cluster, _state.pop("zookeeper", None))


if __name__ == "__main__":
    # Run the importable module's serve(): the functions the soak sends by reference
    # (``bench.soak.host._info``) must see the state it sets, not this __main__'s copy.
    from bench.soak.host import serve as serve_imported

    serve_imported()
