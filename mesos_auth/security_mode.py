"""The DC/OS security mode, and how a service finds out which one it runs in.

DC/OS sets no environment variable for the mode: cluster nodes keep it as the
key ``security`` of ``/opt/mesosphere/etc/bootstrap-config.json``. We look, in
order, at an explicit value, our own variable ``MESOS_AUTH_SECURITY_MODE``, that
file, and otherwise assume ``permissive`` (authenticate when credentials exist,
never require it). An ``https`` login endpoint in a secret is a hint, not proof,
so it is not used.
"""

from __future__ import annotations

import enum
import json
import logging
import os
from pathlib import Path
from typing import Mapping, Optional, Tuple, Union

from mesos_auth.errors import ConfigurationError, SecurityModeError

logger = logging.getLogger(__name__)

SECURITY_MODE_ENV = "MESOS_AUTH_SECURITY_MODE"
BOOTSTRAP_CONFIG_PATH = "/opt/mesosphere/etc/bootstrap-config.json"


class SecurityMode(str, enum.Enum):
    """DC/OS security modes; the values are the strings DC/OS uses."""

    DISABLED = "disabled"
    PERMISSIVE = "permissive"
    STRICT = "strict"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Union[str, SecurityMode], source: str = "arguments") -> SecurityMode:
        """Accept a SecurityMode or its string, case-insensitively."""
        if isinstance(value, SecurityMode):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise SecurityModeError(str(value), source) from None

    @property
    def requires_authentication(self) -> bool:
        """Whether the master refuses unauthenticated frameworks."""
        return self is SecurityMode.STRICT

    @property
    def checks_tokens(self) -> bool:
        """Whether the master checks a token when one is sent."""
        return self is not SecurityMode.DISABLED


def detect_security_mode(
    explicit: Union[str, SecurityMode, None] = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    bootstrap_config: Union[str, os.PathLike[str]] = BOOTSTRAP_CONFIG_PATH,
) -> SecurityMode:
    """The security mode: explicit, then ``$MESOS_AUTH_SECURITY_MODE``, then the
    node's bootstrap config, else permissive."""
    return resolve_security_mode(explicit, environ=environ, bootstrap_config=bootstrap_config)[0]


def resolve_security_mode(
    explicit: Union[str, SecurityMode, None] = None,
    *,
    environ: Optional[Mapping[str, str]] = None,
    bootstrap_config: Union[str, os.PathLike[str]] = BOOTSTRAP_CONFIG_PATH,
) -> Tuple[SecurityMode, str]:
    """The security mode and where it came from, in words for a log line.

    Why the source matters: inside a DC/OS task's container the node's bootstrap config
    is usually not visible and DC/OS sets no variable, so a framework that sets nothing
    runs permissive (plain http by default) on a strict cluster; saying "the default"
    in the log shows that at once.
    """
    if explicit is not None:
        return SecurityMode.parse(explicit, "arguments"), "the security_mode argument"
    env = os.environ if environ is None else environ
    if env.get(SECURITY_MODE_ENV, "").strip():
        return SecurityMode.parse(env[SECURITY_MODE_ENV], f"${SECURITY_MODE_ENV}"), f"${SECURITY_MODE_ENV}"
    path = Path(bootstrap_config)
    if path.is_file():
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the security mode from {path}: {exc.__class__.__name__}. "
                f"Fix the file or set {SECURITY_MODE_ENV}"
            ) from None
        value = config.get("security") if isinstance(config, dict) else None
        if value:
            return SecurityMode.parse(value, str(path)), f"the DC/OS bootstrap config {path}"
        logger.debug("%s has no 'security' key; assuming permissive", path)
    return SecurityMode.PERMISSIVE, (
        f"the default: neither ${SECURITY_MODE_ENV} nor {path} is set here "
        f"(inside a DC/OS task, set {SECURITY_MODE_ENV} in the app definition)"
    )
