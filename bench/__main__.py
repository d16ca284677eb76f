"""Run every benchmark in this folder, one after the other: ``python -m bench``.

``python -m bench soak --seed N ...`` runs the chaos soak instead (``bench/soak``), with
the arguments after its name; it is not one of "every benchmark" (it runs for minutes).
"""

from __future__ import annotations

import importlib
import sys
import time
from typing import List

BENCHMARKS = ["bench.token_logins", "bench.registration", "bench.fake_master", "bench.startup", "bench.recovery"]


#: Run by name only, given the arguments after the name; their ``main(argv)`` is the exit status.
COMMANDS = {"soak": "bench.soak"}


def main(names: List[str]) -> int:
    if names and names[0] in COMMANDS:
        command = importlib.import_module(COMMANDS[names[0]])
        return int(command.main(names[1:]))
    for name in names or BENCHMARKS:
        module = importlib.import_module(name if name.startswith("bench.") else f"bench.{name}")
        print(f"== {module.__name__}: {(module.__doc__ or '').strip().splitlines()[0]}")
        started = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - started:.1f} s)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
