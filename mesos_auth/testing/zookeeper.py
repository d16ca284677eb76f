"""A real ZooKeeper for tests: the Debian package's server, run in the foreground on 127.0.0.1.

Frameworks find the leading Mesos master through ZooKeeper (``zk://host:2181/mesos``),
so the tests that follow leader changes need the real server, not a stand-in: its
ephemeral nodes vanish when their session ends, exactly what a dying master does.
The server is ``org.apache.zookeeper.server.ZooKeeperServerMain`` from the Debian
``zookeeper`` package (``apt-get install zookeeper``; needs Java), started with its own
config file and data directory, so it never touches ``/etc/zookeeper`` or a system service.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Optional, Sequence, Type

#: Where the Debian package puts the server jar; its manifest names every dependency.
DEBIAN_JARS: Sequence[str] = ("/usr/share/java/zookeeper.jar",)
MAIN_CLASS = "org.apache.zookeeper.server.ZooKeeperServerMain"
INSTALL_HINT = "install it with `sudo apt-get install zookeeper` (Debian/Ubuntu; it brings Java)"

#: Sessions expire after 2..20 ticks; a short tick lets tests see an expired session soon.
TICK_MS = 500


class ZooKeeperUnavailable(RuntimeError):
    """No Java or no ZooKeeper jar on this machine: the tests that need it are skipped."""


def find_classpath(jars: Sequence[str] = DEBIAN_JARS) -> str:
    """The classpath of the ZooKeeper server, or :class:`ZooKeeperUnavailable` saying how to get it."""
    missing = [jar for jar in jars if not os.path.isfile(jar)]
    if missing:
        raise ZooKeeperUnavailable(f"ZooKeeper is not installed ({', '.join(missing)} missing): {INSTALL_HINT}")
    return os.pathsep.join(jars)


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ZooKeeperUnavailable(f"no `java` on PATH to run ZooKeeper: {INSTALL_HINT}")
    return java


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ZooKeeperServer:
    """One standalone ZooKeeper on 127.0.0.1: ``start()``, ``stop()``, ``restart()``.

    ``hosts`` is what a ZooKeeper client takes (``127.0.0.1:<port>``), ``url()`` what
    a Mesos framework takes (``zk://127.0.0.1:<port>/mesos``). ``restart()`` keeps
    the port and the data directory, as a ZooKeeper that restarts does: persistent
    nodes survive, and so do sessions: a restarted standalone server restores them
    with a fresh timeout (``SessionTrackerImpl``), so an ephemeral node goes only when
    its client does not reconnect within the session timeout after the restart.
    ``stop(keep_data=True)`` then ``start()`` is an outage of a chosen length.
    """

    def __init__(self, *, start_timeout: float = 60.0, java: Optional[str] = None) -> None:
        self.start_timeout = start_timeout
        self._java = java
        self._classpath: Optional[str] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._dir: Optional[Path] = None
        self._log: Optional[Path] = None
        self.port = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<ZooKeeperServer {self.hosts} {state}>"

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/mesos") -> str:
        return f"zk://{self.hosts}{path}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> ZooKeeperServer:
        if self.running:
            return self
        java = self._java or find_java()
        self._classpath = self._classpath or find_classpath()
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="mesos-auth-zk-"))
            (self._dir / "data").mkdir()
        attempts = 1 if self.port else 3  # a fresh free port may be taken by someone else meanwhile
        for attempt in range(attempts):
            if not self.port or attempt:
                self.port = free_port()
            self._launch(java)
            try:
                self._wait_until_serving()
                return self
            except ZooKeeperUnavailable:
                self._terminate()
                if attempt + 1 == attempts:
                    raise
        return self  # not reached

    def _launch(self, java: str) -> None:
        if self._dir is None or self._classpath is None:
            raise RuntimeError("_launch() before start()")
        config = self._dir / "zoo.cfg"
        config.write_text(
            f"tickTime={TICK_MS}\n"
            f"dataDir={self._dir / 'data'}\n"
            f"clientPort={self.port}\n"
            "clientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\n"
            "maxClientCnxns=0\n"
            "4lw.commands.whitelist=ruok,stat\n"
        )
        self._log = self._dir / "server.log"
        with open(self._log, "ab") as log:
            self._process = subprocess.Popen(  # noqa: S603 (our own java and jars, no shell)
                [java, "-Xmx256m", "-cp", self._classpath, MAIN_CLASS, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C of the test run is handled by stop(), not by Java
            )

    def _wait_until_serving(self) -> None:
        """Until a ZooKeeper client gets a session (the port alone opens before the server serves)."""
        from kazoo.client import KazooClient  # type: ignore[import-untyped]
        from kazoo.handlers.threading import KazooTimeoutError  # type: ignore[import-untyped]
        from kazoo.retry import KazooRetry  # type: ignore[import-untyped]

        deadline = time.monotonic() + self.start_timeout
        while True:
            if not self.running:
                raise ZooKeeperUnavailable(f"ZooKeeper exited at start: {self._log_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ZooKeeperUnavailable(f"ZooKeeper did not serve within {self.start_timeout} s: {self._log_tail()}")
            client = KazooClient(
                self.hosts, timeout=10.0, connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.2)
            )
            try:
                client.start(timeout=min(remaining, 2.0))
                client.get_children("/")
                return
            except KazooTimeoutError:
                continue
            finally:
                client.stop()
                client.close()

    def _log_tail(self) -> str:
        try:
            return " | ".join((self._log.read_text(errors="replace") if self._log else "").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def stop(self, *, keep_data: bool = False) -> None:
        """Stop the server and remove its data directory; with ``keep_data`` keep the data and the
        port, so that :meth:`start` brings the same ZooKeeper back (an outage of a chosen length)."""
        self._terminate()
        if keep_data:
            return
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> ZooKeeperServer:
        """Stop the server and start it again on the same port with the same data."""
        self._terminate()
        return self.start()

    def __enter__(self) -> ZooKeeperServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.stop()
