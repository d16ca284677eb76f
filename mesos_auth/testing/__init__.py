"""Test doubles of a DC/OS cluster: a fake IAM, a fake Mesos master, a test CA.

They are real servers on 127.0.0.1 (HTTP and HTTPS), faithful to the wire
contract, usable with or without pytest.
"""

from mesos_auth.testing.errors import TokenRejected
from mesos_auth.testing.iam import FakeIAM, IAMEvent
from mesos_auth.testing.master import FakeMaster
from mesos_auth.testing.tls import TestCA

__all__ = ["FakeIAM", "FakeMaster", "IAMEvent", "TestCA", "TokenRejected"]
