"""The fake IAM's access control lists: who may do what on which protected resource.

DC/OS keeps permissions as ACLs: an ACL per resource id (``rid``, e.g.
``dcos:mesos:master:framework:role:my-role``) with a description, and in it the
actions each account may perform (``create``, ``read``, ``update``, ``delete``,
``full``). The ACL API is DC/OS Enterprise's (the DC/OS docs' ``ent-iam.yaml``;
open-source dcos/bouncer has none), so the decision rule below follows the DC/OS
documentation (``docs/protocol.md``, "Permissions"):

- an exact rid grants, and so does a granted rid that is a prefix of the asked
  one at a ``:`` boundary ("leaving out the optional part means all possible
  values": ``dcos:mesos:master:framework:role`` covers every role); a ``/``
  inside a role is no boundary (whether DC/OS treats ``role:a`` as covering
  ``role:a/b`` is unverified; the docs always grant refined roles explicitly);
- ``full`` implies every action;
- ``dcos:superuser`` ``full`` allows everything.

:class:`ACLStore` is thread-safe: the fake master asks :meth:`ACLStore.is_allowed`
from its own threads. Every change and every check is kept as an
:class:`ACLEvent`, for tests to see what was granted and what was asked.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

__all__ = [
    "ACS_RID",
    "ACTIONS",
    "SUPERUSER_RID",
    "ACLEvent",
    "ACLStore",
    "check_action",
    "check_rid",
    "covers",
]

#: The valid actions, in the order the fake lists them (DC/OS perms reference; ``full`` implies the others).
ACTIONS: Tuple[str, ...] = ("create", "read", "update", "delete", "full")
SUPERUSER_RID = "dcos:superuser"
#: "Controls access to the Identity and Access Management API" (DC/OS perms reference; ``full`` only).
ACS_RID = "dcos:adminrouter:acs"


@dataclass(frozen=True)
class ACLEvent:
    """One change to the ACLs, or one permission check, as the fake IAM saw it.

    ``kind``: ``"create-acl"``, ``"update-acl"``, ``"delete-acl"``, ``"grant"``,
    ``"revoke"`` (one action, or every action of ``uid`` when ``action`` is None)
    or ``"check"``. ``result``: for a check, whether it was allowed; for a change,
    whether it changed anything (granting a granted action does not). ``via``:
    ``"python"`` (the test or another fake) or ``"http"`` (the ACL API). ``at``:
    the IAM's clock.
    """

    kind: str
    rid: str
    uid: Optional[str]
    action: Optional[str]
    result: bool
    via: str
    at: float


def check_action(action: str) -> None:
    """ValueError unless ``action`` is one of :data:`ACTIONS`."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")


def check_rid(rid: str) -> None:
    """ValueError unless ``rid`` is a non-empty string (the fake checks no more: DC/OS' rid rules are not public)."""
    if not isinstance(rid, str) or not rid:
        raise ValueError("rid must be a non-empty string")


def covers(granted_rid: str, asked_rid: str) -> bool:
    """Whether a grant on ``granted_rid`` applies to ``asked_rid``: the same rid, or a prefix at a ``:``."""
    return asked_rid == granted_rid or asked_rid.startswith(granted_rid + ":")


class ACLStore:
    """ACLs (rid -> description, in creation order) and grants (rid -> uid -> actions); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._descriptions: Dict[str, str] = {}
        self._grants: Dict[str, Dict[str, Set[str]]] = {}
        self._events: List[ACLEvent] = []

    # -- ACLs ----------------------------------------------------------------------------------------

    def create(self, rid: str, description: str, via: str, at: float) -> bool:
        """Create the ACL of ``rid``; False (and no change) if it exists."""
        check_rid(rid)
        with self._lock:
            created = rid not in self._descriptions
            if created:
                self._descriptions[rid] = description
            self._events.append(ACLEvent("create-acl", rid, None, None, created, via, at))
        return created

    def update(self, rid: str, description: str, via: str, at: float) -> bool:
        """Set the description of an existing ACL; False if there is none."""
        with self._lock:
            known = rid in self._descriptions
            if known:
                self._descriptions[rid] = description
            self._events.append(ACLEvent("update-acl", rid, None, None, known, via, at))
        return known

    def delete(self, rid: str, via: str, at: float) -> bool:
        """Delete an ACL and every grant in it; False if there is none."""
        with self._lock:
            known = self._descriptions.pop(rid, None) is not None
            self._grants.pop(rid, None)
            self._events.append(ACLEvent("delete-acl", rid, None, None, known, via, at))
        return known

    def description(self, rid: str) -> Optional[str]:
        """The ACL's description, None if the ACL does not exist."""
        with self._lock:
            return self._descriptions.get(rid)

    def acls(self) -> List[Tuple[str, str]]:
        """Every ACL as (rid, description), in creation order."""
        with self._lock:
            return list(self._descriptions.items())

    # -- grants --------------------------------------------------------------------------------------

    def grant(self, uid: str, rid: str, action: str, description: str, via: str, at: float) -> bool:
        """Grant ``action`` on ``rid`` to ``uid``, creating the ACL if missing; False if already granted."""
        check_rid(rid)
        check_action(action)
        with self._lock:
            self._descriptions.setdefault(rid, description)
            actions = self._grants.setdefault(rid, {}).setdefault(uid, set())
            added = action not in actions
            actions.add(action)
            self._events.append(ACLEvent("grant", rid, uid, action, added, via, at))
        return added

    def revoke(self, uid: str, rid: str, action: Optional[str], via: str, at: float) -> bool:
        """Revoke one action (or, with None, every action) of ``uid`` on ``rid``; False if none was granted."""
        if action is not None:
            check_action(action)
        with self._lock:
            users = self._grants.get(rid, {})
            actions = users.get(uid, set())
            removed = bool(actions) if action is None else action in actions
            if action is None:
                actions.clear()
            else:
                actions.discard(action)
            if not actions:
                users.pop(uid, None)
            self._events.append(ACLEvent("revoke", rid, uid, action, removed, via, at))
        return removed

    def forget_user(self, uid: str) -> None:
        """Drop every grant of ``uid`` (its account was deleted); not recorded as revocations."""
        with self._lock:
            for users in self._grants.values():
                users.pop(uid, None)

    def actions_of(self, uid: str, rid: str) -> FrozenSet[str]:
        """The actions granted to ``uid`` on exactly ``rid`` (no prefix, no ``full`` expansion)."""
        with self._lock:
            return frozenset(self._grants.get(rid, {}).get(uid, ()))

    def grantees(self, rid: str) -> List[Tuple[str, FrozenSet[str]]]:
        """Every (uid, actions) with a grant on exactly ``rid``, in the order they were first granted."""
        with self._lock:
            return [(uid, frozenset(actions)) for uid, actions in self._grants.get(rid, {}).items() if actions]

    def permissions_of(self, uid: str) -> Dict[str, FrozenSet[str]]:
        """rid -> actions granted directly to ``uid``, in ACL creation order."""
        with self._lock:
            found = {rid: frozenset(users.get(uid, ())) for rid, users in self._grants.items()}
            order = list(self._descriptions)
        return {rid: found[rid] for rid in order if found.get(rid)}

    def is_allowed(self, uid: str, rid: str, action: str, *, via: str, at: float, record: bool = True) -> bool:
        """The decision (see the module docstring), recorded as a ``"check"`` unless ``record`` is False."""
        check_action(action)
        with self._lock:
            allowed = any(
                covers(granted_rid, rid) or (granted_rid == SUPERUSER_RID and "full" in actions)
                for granted_rid, users in self._grants.items()
                for actions in [users.get(uid, set())]
                if action in actions or "full" in actions
            )
            if record:
                self._events.append(ACLEvent("check", rid, uid, action, allowed, via, at))
        return allowed

    # -- records ---------------------------------------------------------------------------------------

    @property
    def events(self) -> List[ACLEvent]:
        with self._lock:
            return list(self._events)

    def clear_events(self) -> None:
        with self._lock:
            self._events.clear()

    def clear(self) -> None:
        """Forget every ACL and grant (not the events)."""
        with self._lock:
            self._descriptions.clear()
            self._grants.clear()
