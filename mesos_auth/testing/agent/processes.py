"""The agent's real processes: started in a session of their own, killed as a group, always reaped.

Each executor (or command task) runs as ``subprocess.Popen(..., start_new_session=True)``
in its sandbox, with ``stdout`` and ``stderr`` files there as Mesos writes them. One
waiter thread per process waits for its exit *without reaping it*
(``os.waitid(..., WNOWAIT)``), kills what is left of its process group while the
group id cannot yet be reused (the Mesos containerizer destroys the whole container
when its init process exits), then reaps it and reports the exit. So no process
outlives its container and no zombie is left behind.

A kill is SIGTERM to the group, then SIGKILL after the grace period (the command
executor's ``kill``, ``src/launcher/executor.cpp``). :meth:`ProcessTable.stop` ends
every process: SIGTERM, up to ``grace`` seconds, SIGKILL, then waits for the waiters.
The number of live processes is bounded (``max_processes``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional

Schedule = Callable[[float, Callable[[], None]], None]


@dataclass(eq=False)
class ManagedProcess:
    """One process the agent started: its name (for records), pid, sandbox and, once reaped, its exit."""

    name: str
    pid: int
    sandbox: Path
    popen: subprocess.Popen[bytes] = field(repr=False)
    returncode: Optional[int] = None
    killing: bool = False
    waiter: Optional[threading.Thread] = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.returncode is None

    def wait_status_text(self) -> str:
        """``WSTRINGIFY`` of apache/mesos ``src/common/status_utils.hpp``:
        "exited with status N" or "terminated with signal <strsignal>"."""
        code = self.returncode
        if code is None:
            return "is running"
        if code >= 0:
            return f"exited with status {code}"
        try:
            name = signal.strsignal(-code) or f"Unknown signal {-code}"
        except ValueError:
            name = f"Unknown signal {-code}"
        return f"terminated with signal {name}"


class ProcessTable:
    """Every process of one agent. ``on_exit`` is called on the waiter thread after the reap."""

    def __init__(
        self,
        *,
        on_exit: Callable[[ManagedProcess], None],
        on_error: Callable[[str], None],
        schedule: Schedule,
        max_processes: int = 64,
    ) -> None:
        self._on_exit = on_exit
        self._on_error = on_error
        self._schedule = schedule
        self._max = max_processes
        self._lock = threading.Lock()
        self._processes: Dict[int, ManagedProcess] = {}
        self.started: List[ManagedProcess] = []  # every process ever started, for records and tests
        self._stopping = False

    def spawn(
        self, name: str, executable: str, argv: List[str], env: Mapping[str, str], sandbox: Path
    ) -> ManagedProcess:
        """Start one process in a new session; OSError (or RuntimeError when full or stopping) if it cannot."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the agent is stopping")
            if len(self._processes) >= self._max:
                raise RuntimeError(f"too many processes on the fake agent (at most {self._max})")
            sandbox.mkdir(parents=True, exist_ok=True)
            with open(sandbox / "stdout", "ab") as stdout, open(sandbox / "stderr", "ab") as stderr:
                popen = subprocess.Popen(  # noqa: S603 - the framework's own command, as an agent runs it
                    argv,
                    executable=executable,
                    cwd=str(sandbox),
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    close_fds=True,
                    start_new_session=True,
                )
            process = ManagedProcess(name, popen.pid, sandbox, popen)
            self._processes[popen.pid] = process
            self.started.append(process)
            process.waiter = threading.Thread(
                target=self._wait, args=(process,), name=f"FakeAgent-wait-{popen.pid}", daemon=True
            )
            process.waiter.start()
        return process

    def live(self) -> List[ManagedProcess]:
        with self._lock:
            return list(self._processes.values())

    # -- killing ------------------------------------------------------------------------

    def terminate(self, process: ManagedProcess, grace: float) -> None:
        """SIGTERM to the group now, SIGKILL after ``grace`` seconds if it still runs."""
        process.killing = True
        self._signal(process, signal.SIGTERM)
        if grace <= 0:
            self._signal(process, signal.SIGKILL)
        else:
            self._schedule(grace, lambda: self._signal(process, signal.SIGKILL))

    def kill(self, process: ManagedProcess) -> None:
        process.killing = True
        self._signal(process, signal.SIGKILL)

    def _signal(self, process: ManagedProcess, signum: int) -> None:
        # Only while unreaped: the group id is then still ours (its leader is at least a zombie).
        with self._lock:
            if process.pid in self._processes:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signum)

    def stop(self, grace: float, timeout: float = 20.0, *, final: bool = True) -> None:
        """End every process: SIGTERM, up to ``grace`` s for them to go, SIGKILL; wait for every reap.

        ``final``: refuse new processes from now on (the agent stops); otherwise a reset.
        """
        with self._lock:
            self._stopping = final
        for process in self.live():
            process.killing = True
            self._signal(process, signal.SIGTERM)
        deadline = time.monotonic() + max(0.0, grace)
        for process in self.live():
            if process.waiter is not None:
                process.waiter.join(max(0.0, deadline - time.monotonic()))
        for process in self.live():
            self._signal(process, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        with self._lock:
            waiters = [p.waiter for p in self.started if p.waiter is not None]
        for waiter in waiters:
            waiter.join(max(0.0, deadline - time.monotonic()))
        stuck = [p for p in self.live()]
        if stuck:
            self._on_error("processes not reaped at stop: " + ", ".join(str(p.pid) for p in stuck))
        # Orphaned group members got SIGKILL with their leader; wait until none of them runs.
        groups = {p.pid for p in self.started}
        while groups and any(live_group_members(pgid) for pgid in groups) and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- waiting ------------------------------------------------------------------------

    def _wait(self, process: ManagedProcess) -> None:
        try:
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            # The container ends with its init process: what is left of the group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with self._lock:  # reaped and forgotten at once: no signal can reach a reused group id
                process.returncode = process.popen.wait()
                self._processes.pop(process.pid, None)
            self._on_exit(process)
        except Exception:
            self._on_error(f"waiting for process {process.pid} failed:\n{traceback.format_exc()}")


def live_group_members(pgid: int) -> List[int]:
    """Pids of the processes of group ``pgid`` that are not zombies (Linux ``/proc``; [] elsewhere).

    Orphans that the group's SIGKILL hit are reaped by init, not by us: as zombies they
    no longer run, so they do not count.
    """
    members: List[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return members
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members
