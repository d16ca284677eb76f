"""``python -m bench.soak --seed N --faults N --frameworks N``: see ``bench/soak/run.py``."""

import sys

from bench.soak import main

if __name__ == "__main__":
    sys.exit(main())
