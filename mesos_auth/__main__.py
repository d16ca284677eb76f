"""``python -m mesos_auth`` is the ``mesos-auth`` command."""

import sys

from mesos_auth.cli import main

sys.exit(main())
