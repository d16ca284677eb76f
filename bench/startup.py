"""Start-up cost of mesos-auth run: Python processes with and without its bootstrap, one run.

Each row starts a fresh interpreter (this one's ``sys.executable``) and times it to
its exit, in this process:

- ``python -c pass``, the baseline, and the same with the bootstrap on
  ``PYTHONPATH`` (what every Python process under ``mesos-auth run`` pays: the
  bootstrap's sitecustomize finds mesos_auth and installs the import hook, and
  imports neither mesos_auth nor pymesos);
- ``mesos-auth run -- python -c pass``: the above plus the ``mesos-auth`` command's
  own start, paid once per command (it then execs the command);
- a program that imports pymesos, plain and with the bootstrap (the hook then
  imports mesos_auth's driver and patches pymesos' classes).

Medians over repeated runs; ratios are against ``python -c pass``, and the added
milliseconds are against the same program without the bootstrap.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import mesos_auth
from mesos_auth.cli.run import run_environment

RUNS = 25


def environment() -> Dict[str, str]:
    """This process' environment, importing this checkout's mesos_auth, without the bootstrap."""
    env = dict(os.environ)
    source = str(Path(mesos_auth.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source, env.get("PYTHONPATH", "")]))
    return env


def time_command(command: List[str], env: Dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - our interpreter
    return time.perf_counter() - started


def main() -> None:
    python = sys.executable
    plain = environment()
    hooked = run_environment(plain)
    run = [python, "-m", "mesos_auth", "run", "--"]
    importing = [python, "-c", "import pymesos"]
    # (name, command, environment, the row it adds to)
    cases: List[Tuple[str, List[str], Dict[str, str], str]] = [
        ("python -c pass", [python, "-c", "pass"], plain, ""),
        ("  with the bootstrap", [python, "-c", "pass"], hooked, "python -c pass"),
        ("  mesos-auth run -- ...", [*run, python, "-c", "pass"], plain, "python -c pass"),
        ("python -c 'import pymesos'", importing, plain, ""),
        ("  with the bootstrap ", importing, hooked, "python -c 'import pymesos'"),
    ]
    samples: Dict[str, List[float]] = {name: [] for name, *_ in cases}
    for round_ in range(RUNS + 1):  # interleaved, so that the machine's noise falls on every row alike
        for name, command, env, _ in cases:
            seconds = time_command(command, env)
            if round_:  # the first round warms the file caches and bytecode
                samples[name].append(seconds)
    times = {name: statistics.median(values) for name, values in samples.items()}
    base = times["python -c pass"]
    print(f"Process start to exit, median of {RUNS} interleaved runs")
    print(f"{'program':<30}{'ms':>9}{'ratio':>9}{'added ms':>10}")
    for name, _, _, against in cases:
        seconds = times[name]
        added = f"{(seconds - times[against]) * 1000:>10.1f}" if against else ""
        print(f"{name:<30}{seconds * 1000:>9.1f}{seconds / base:>8.2f}x{added}")


if __name__ == "__main__":
    main()
