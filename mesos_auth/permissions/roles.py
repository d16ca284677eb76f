"""The roles a framework registers with, read and validated as the Mesos master does.

A framework's roles are ``FrameworkInfo.roles`` when it has the ``MULTI_ROLE``
capability, else ``FrameworkInfo.role`` (default ``*``): Apache Mesos,
``src/common/protobuf_utils.cpp`` ``protobuf::framework::getRoles``. The master
validates them before anything is authorized, with the texts of
``src/master/validation.cpp`` ``framework::internal::validateRoles`` and
``src/common/roles.cpp`` ``roles::validate`` (identical at every Mesos commit DC/OS
1.10 to 2.2 ships); those texts are what :class:`InvalidRoleError` says, so that
what mesos-auth reports is what the master would.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple

from mesos_auth.errors import ConfigurationError

#: The default role (``FrameworkInfo.role``'s proto default): Mesos' ``*``.
DEFAULT_ROLE = "*"

#: ``roles.cpp``'s ``INVALID_CHARACTERS``: tab, line feed, vertical tab, form feed,
#: carriage return, space and DEL.
_INVALID_CHARACTERS = frozenset("\x09\x0a\x0b\x0c\x0d\x20\x7f")


class InvalidRoleError(ConfigurationError, ValueError):
    """A role, or a FrameworkInfo's role fields, that the Mesos master refuses.

    The message is Mesos' own text (``roles::validate`` / ``validateRoles``), so it
    reads as the master's refusal would.
    """


def validate_role(role: str) -> None:
    """Raise :class:`InvalidRoleError` unless Mesos accepts ``role``; ``roles::validate``, check by check."""
    if role == DEFAULT_ROLE:
        return
    if role.startswith("/"):
        raise InvalidRoleError(f"Role '{role}' cannot start with a slash")
    if role.endswith("/"):
        raise InvalidRoleError(f"Role '{role}' cannot end with a slash")
    if "//" in role:
        raise InvalidRoleError(f"Role '{role}' cannot contain two adjacent slashes")
    components = [component for component in role.split("/") if component]  # strings::tokenize
    if not components:
        raise InvalidRoleError("Role names cannot be the empty string")
    for component in components:
        if component == ".":
            raise InvalidRoleError(f"Role '{role}' cannot include '.' as a component")
        if component == "..":
            raise InvalidRoleError(f"Role '{role}' cannot include '..' as a component")
        if component == DEFAULT_ROLE:
            raise InvalidRoleError(f"Role '{role}' cannot include '*' as a component")
        if component.startswith("-"):
            raise InvalidRoleError(f"Role component '{component}' is invalid because it starts with a dash")
        if any(character in _INVALID_CHARACTERS for character in component):
            raise InvalidRoleError(
                f"Role component '{component}' is invalid because it contains backspace or whitespace"
            )


def has_capability(framework_info: Mapping[str, Any], name: str) -> bool:
    """Whether ``FrameworkInfo.capabilities`` holds ``{"type": name}``."""
    capabilities = framework_info.get("capabilities")
    if not isinstance(capabilities, list):
        return False
    return any(isinstance(capability, Mapping) and capability.get("type") == name for capability in capabilities)


def framework_roles(framework_info: Mapping[str, Any]) -> Tuple[str, ...]:
    """The roles the master authorizes a SUBSCRIBE for, validated as ``validateRoles`` does, in order.

    ``roles`` for a ``MULTI_ROLE`` framework (possibly none), else ``role`` or ``*``.
    Raises :class:`InvalidRoleError` with the master's text for what the master
    refuses: ``role`` set by a MULTI_ROLE framework, ``roles`` set by one that is not,
    duplicates, and invalid roles.
    """
    multi_role = has_capability(framework_info, "MULTI_ROLE")
    role = framework_info.get("role")
    roles = framework_info.get("roles")
    if roles is not None and not (isinstance(roles, list) and all(isinstance(item, str) for item in roles)):
        raise InvalidRoleError("'FrameworkInfo.roles' must be a list of strings")
    if role is not None and not isinstance(role, str):
        raise InvalidRoleError("'FrameworkInfo.role' must be a string")
    if multi_role:
        if role is not None:
            raise InvalidRoleError("'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable")
    elif roles:
        raise InvalidRoleError("'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable")
    if not multi_role:
        single = DEFAULT_ROLE if role is None else role
        _validate_as(single, "'FrameworkInfo.role' is not a valid role: ")
        return (single,)
    listed: List[str] = list(roles or [])
    duplicates = sorted({item for item in listed if listed.count(item) > 1})
    if duplicates:
        # Mesos stringifies a hashset (no set order); sorted here.
        raise InvalidRoleError(f"'FrameworkInfo.roles' contains duplicate items: {{ {', '.join(duplicates)} }}")
    for item in listed:
        _validate_as(item, "'FrameworkInfo.roles' contains invalid role: ")
    return tuple(listed)


def _validate_as(role: str, prefix: str) -> None:
    try:
        validate_role(role)
    except InvalidRoleError as error:
        raise InvalidRoleError(prefix + str(error)) from None
