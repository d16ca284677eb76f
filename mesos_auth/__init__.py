"""DC/OS service-account authentication for pymesos frameworks."""

from mesos_auth._version import __version__

__all__ = ["__version__"]
