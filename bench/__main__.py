"""Run every benchmark in this folder, one after the other: ``python -m bench``."""

from __future__ import annotations

import importlib
import sys
import time
from typing import List

BENCHMARKS = ["bench.token_logins", "bench.registration", "bench.fake_master", "bench.startup"]


def main(names: List[str]) -> int:
    for name in names or BENCHMARKS:
        module = importlib.import_module(name if name.startswith("bench.") else f"bench.{name}")
        print(f"== {module.__name__}: {(module.__doc__ or '').strip().splitlines()[0]}")
        started = time.perf_counter()
        module.main()
        print(f"   ({time.perf_counter() - started:.1f} s)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
