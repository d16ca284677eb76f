"""The master's answers to SUBSCRIBE, and the event stream they open.

What each answer means for a driver (contract.md, section 7), as small functions
of plain values, so the meaning is tested apart from any socket:

- 200 opens a chunked RecordIO stream of events (:func:`read_events`);
- 307 names the leader (:class:`Redirect`);
- 401 refuses the credentials (:class:`AuthenticationFailedError`);
- 400 with Mesos' principal text is a principal mismatch; other 400s and 403s
  refuse the framework for good (:class:`SubscriptionRefusedError`);
- anything else (503 while no leader is elected or the master recovers, 5xx) may
  heal (:class:`Retryable`).

An ERROR event on an open stream is a refusal too (:func:`error_event`).
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any, Callable, Dict, Iterator, Optional

from mesos_auth.errors import (
    AuthenticationFailedError,
    PermissionRefusedError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
)
from mesos_auth.master_uri import MasterAddress, follow_redirect
from mesos_auth.recordio import RecordIODecoder

_PRINCIPAL_MISMATCH = "does not match principal"
READ_SIZE = 65536


class Redirect(Exception):
    """The master is not the leader; ``target`` is."""

    def __init__(self, target: MasterAddress) -> None:
        super().__init__(str(target))
        self.target = target


class Retryable(Exception):
    """The subscription failed in a way that may heal: try again after a pause."""


def check_subscribe_answer(
    address: MasterAddress,
    status: int,
    text: str,
    location: Optional[str],
    *,
    sent_credentials: bool,
    principal: str,
    uid: str,
) -> None:
    """Raise what a non-200 answer to SUBSCRIBE means; return on 200."""
    if status == 200:
        return
    if status == 307:
        raise Redirect(follow_redirect(address, location))
    if status == 401:
        if sent_credentials:
            raise AuthenticationFailedError(address.url, text or "credentials refused")
        raise AuthenticationFailedError(
            address.url,
            "no credentials were sent: the cluster requires authentication; give a service account (strict mode)",
        )
    if status == 400 and _PRINCIPAL_MISMATCH in text:
        raise PrincipalMismatchError(principal, uid or text)
    if status in (400, 403):
        raise SubscriptionRefusedError(text, status=status, master=address.url)
    raise Retryable(f"HTTP {status} {text[:100]}")


def error_event(message: str, *, master: str, principal: str) -> SubscriptionRefusedError:
    """What an ERROR event means: a refused permission, or another final refusal."""
    lowered = message.lower()
    if "authoriz" in lowered or ("not allowed" in lowered and "role" in lowered):
        return PermissionRefusedError(message, master=master, principal=principal)
    return SubscriptionRefusedError(message, master=master)


def read_events(resp: Any, stopped: Callable[[], bool], silence: Callable[[], str]) -> Iterator[Dict[str, Any]]:
    """The events of an open stream, until it ends or ``stopped()``.

    A read that times out (the socket's timeout is set from the heartbeat
    interval) raises :class:`Retryable` with ``silence()``; a broken stream does too.
    """
    decoder = RecordIODecoder()
    while not stopped():
        try:
            data = resp.read1(READ_SIZE)
        except socket.timeout:
            raise Retryable(silence()) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if stopped():
                return
            raise Retryable(f"stream broke: {exc.__class__.__name__}") from None
        if not data:
            return
        for record in decoder.feed(data):
            yield json.loads(record.decode("utf-8"))
