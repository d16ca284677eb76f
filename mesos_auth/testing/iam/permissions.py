"""The Python side of the fake IAM's ACL API, as a mixin of :class:`~mesos_auth.testing.iam.FakeIAM`.

An operator's door: it creates what is missing and never refuses a grant for a
uid without an account (a test may grant first and create the account later).
The rules are in :mod:`.acls`; everything here is thread-safe, since the fake
master calls :meth:`PermissionsAPI.is_allowed` from its own threads.
"""

from __future__ import annotations

from typing import Callable, Dict, FrozenSet, List

from mesos_auth.testing.iam.acls import ACLEvent, ACLStore

__all__ = ["PermissionsAPI"]


class PermissionsAPI:
    """ACLs and grants of a FakeIAM: ``_acls`` is its store, ``_acl_clock`` its clock."""

    _acls: ACLStore
    _acl_clock: Callable[[], float]

    def create_acl(self, rid: str, description: str = "") -> None:
        """Create the ACL of ``rid`` (``PUT /acls/<rid>``); no error if it exists (its description stays)."""
        self._acls.create(rid, description, "python", self._acl_clock())

    def grant_permission(self, uid: str, rid: str, action: str, *, description: str = "") -> None:
        """Grant ``action`` on ``rid`` to ``uid``, creating the ACL (with ``description``) if missing.

        As ``dcos security org users grant UID RID ACTION --description ...``: an
        existing ACL keeps its description. Granting a granted action is no error.
        """
        self._acls.grant(uid, rid, action, description, "python", self._acl_clock())

    def revoke_permission(self, uid: str, rid: str, action: str) -> None:
        """Revoke one action of ``uid`` on exactly ``rid``; no error if it was not granted."""
        self._acls.revoke(uid, rid, action, "python", self._acl_clock())

    def is_allowed(self, uid: str, rid: str, action: str) -> bool:
        """The IAM's decision, as the fake master asks it: exact rid or a granted ``:``-prefix of it,
        ``full`` implies every action, ``dcos:superuser`` full allows everything. Recorded in
        :attr:`acl_events` as a ``"check"``."""
        return self._acls.is_allowed(uid, rid, action, via="python", at=self._acl_clock())

    def permissions_of(self, uid: str) -> Dict[str, FrozenSet[str]]:
        """rid -> actions granted directly to ``uid`` (what ``GET /users/<uid>/permissions`` lists)."""
        return self._acls.permissions_of(uid)

    @property
    def acls(self) -> Dict[str, str]:
        """rid -> description of every ACL, in creation order (a snapshot)."""
        return dict(self._acls.acls())

    @property
    def acl_events(self) -> List[ACLEvent]:
        """Every ACL change and permission check, oldest first (a copy); cleared by :meth:`reset`."""
        return self._acls.events

    def clear_acls(self) -> None:
        """Forget every ACL and grant (:meth:`reset` keeps them)."""
        self._acls.clear()
