"""Peak memory of a client run in a child process with a hard address-space limit.

A memory bomb must be shown *not* to work without the test machine paying for it
when it does: the client code runs in ``sys.executable`` under ``RLIMIT_AS``, so
a regression dies there with MemoryError instead of taking gigabytes here, and
the child reports its own peak resident size: ``VmHWM`` of ``/proc/self/status``,
which belongs to the child's own address space. Not ``ru_maxrss``: Linux carries it
across ``exec`` from the forked copy of the parent (``preexec_fn`` runs there), so it
would report the test session's size, which grows with the suite.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional

REPO = Path(__file__).resolve().parents[2]

_PRELUDE = """
import json, resource, sys, time
def _peak_kib():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def _report(outcome, **facts):
    peak_kib = _peak_kib()
    print("RESULT " + json.dumps({"outcome": outcome, "peak_mib": peak_kib / 1024.0, **facts}), flush=True)
"""

_EPILOGUE = """
_started = time.monotonic()
try:
    _value = main()
except MemoryError:
    _report("MemoryError", seconds=time.monotonic() - _started)
    sys.exit(3)
except BaseException as _exc:
    _report(type(_exc).__name__, message=str(_exc)[:2000], seconds=time.monotonic() - _started)
else:
    _report("returned", value=repr(_value)[:2000], seconds=time.monotonic() - _started)
"""


@dataclass
class ChildResult:
    outcome: str
    peak_mib: float
    seconds: float
    message: str
    facts: Dict[str, Any]


def run_limited(
    body: str,
    *,
    limit_mib: int = 512,
    timeout: float = 60.0,
    env: Optional[Dict[str, str]] = None,
    root: Path = REPO,
) -> ChildResult:
    """Run ``body`` (which defines ``main()``) in a child limited to ``limit_mib`` of address space.

    ``root`` is the checkout whose ``mesos_auth`` the child imports (another one
    measures an older version against the same hostile server).
    """
    code = _PRELUDE + textwrap.dedent(body) + _EPILOGUE
    limit = limit_mib * 1024 * 1024

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    child_env = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory,
        env=child_env,
        cwd=str(root),
    )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            facts = json.loads(line[len("RESULT ") :])
            return ChildResult(
                outcome=facts.pop("outcome"),
                peak_mib=facts.pop("peak_mib"),
                seconds=facts.pop("seconds", 0.0),
                message=facts.pop("message", ""),
                facts=facts,
            )
    raise AssertionError(f"the child reported nothing (exit {done.returncode}):\n{done.stderr[-3000:]}")
