#!/usr/bin/env python3
"""hello_factory: see mesos_auth/examples/hello_factory.py (shipped in the package so that
``mesos-auth demo`` runs it from an installed mesos-auth)."""

import sys

from mesos_auth.examples.hello_factory import HelloScheduler, log, main

__all__ = ["HelloScheduler", "log", "main"]

if __name__ == "__main__":
    sys.exit(main())
