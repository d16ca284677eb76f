"""The master's answers to SUBSCRIBE, and the event stream they open.

What each answer means for a driver (``docs/protocol.md``, "The Mesos v1 scheduler API"), as small functions
of plain values, so the meaning is tested apart from any socket:

- 200 opens a chunked RecordIO stream of events (:func:`read_events`);
- 307 names the leader (:class:`Redirect`);
- 401 refuses the credentials (:class:`AuthenticationFailedError`);
- 400 with Mesos' principal text is a principal mismatch; other 400s and 403s
  refuse the framework for good (:class:`SubscriptionRefusedError`);
- anything else (503 while no leader is elected or the master recovers, 5xx) may
  heal (:class:`Retryable`).

An ERROR event on an open stream is a refusal too (:func:`error_event`); one that
refuses a permission names it and the command that grants it.

What the master sends is input from the network and is checked as such: a
record that is not a JSON object (not UTF-8, not JSON, nested too deeply, empty,
too large), a SUBSCRIBED event without a framework id or with a heartbeat
interval that is not a positive finite number, an ERROR event without a message,
a 307 without a usable ``Location``: each is :class:`Retryable`, so the driver
drops the stream and subscribes again with backoff instead of stopping.
"""

from __future__ import annotations

import http.client
import json
import math
import socket
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional

from mesos_auth._deadline import Deadline
from mesos_auth._redact import server_text
from mesos_auth.errors import (
    AuthenticationFailedError,
    ConfigurationError,
    PermissionRefusedError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
)
from mesos_auth.master_uri import MasterAddress, follow_redirect
from mesos_auth.permission_events import subscription_refusal
from mesos_auth.recordio import DEFAULT_MAX_RECORD, RecordIODecoder, RecordIOError

_PRINCIPAL_MISMATCH = "does not match principal"
READ_SIZE = 65536
#: Mesos' heartbeat interval when SUBSCRIBED does not say (master/constants.hpp: 15 s).
DEFAULT_HEARTBEAT_INTERVAL = 15.0


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
        try:
            raise Redirect(follow_redirect(address, location))
        except ConfigurationError as exc:
            raise Retryable(str(exc)) from None
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
    raise Retryable(f"HTTP {status} {server_text(text, 100)}")


def error_event(
    message: str,
    *,
    master: str,
    principal: str,
    framework_info: Optional[Mapping[str, Any]] = None,
    uid: str = "",
) -> SubscriptionRefusedError:
    """What an ERROR event means: a refused permission, or another final refusal.

    A refusal whose text names the permission (:mod:`mesos_auth.permission_events`)
    carries it and its grant command for ``uid`` (the principal by default); other
    authorization texts (``Authorization failure: ...``) are permission refusals
    without a named permission.
    """
    refusal = subscription_refusal(
        message, framework_info=framework_info or {}, principal=principal, uid=uid or principal, master=master
    )
    if refusal is not None:
        return refusal
    lowered = message.lower()
    if "authoriz" in lowered or ("not allowed" in lowered and "role" in lowered):
        return PermissionRefusedError(message, master=master, principal=principal, uid=uid)
    return SubscriptionRefusedError(message, master=master)


@dataclass(frozen=True)
class Subscribed:
    """What a valid SUBSCRIBED event says."""

    framework_id: str
    heartbeat_interval: float


def parse_event(record: bytes) -> Dict[str, Any]:
    """One RecordIO record as an event object, or :class:`Retryable` saying what it was instead."""
    if not record:
        raise Retryable("the master sent an empty event")
    try:
        event = json.loads(record.decode("utf-8"))
    except UnicodeDecodeError:
        raise Retryable("the master sent an event that is not UTF-8") from None
    except RecursionError:
        raise Retryable("the master sent an event nested too deeply") from None
    except ValueError:
        raise Retryable("the master sent an event that is not JSON") from None
    if not isinstance(event, dict):
        raise Retryable(f"the master sent an event that is a JSON {type(event).__name__}, not an object")
    return event


def check_subscribed(event: Dict[str, Any]) -> Subscribed:
    """The framework id and heartbeat interval of a SUBSCRIBED event, or :class:`Retryable`."""
    subscribed = event.get("subscribed")
    if not isinstance(subscribed, dict):
        raise Retryable("the master sent SUBSCRIBED without its 'subscribed' object")
    framework_id = subscribed.get("framework_id")
    value = framework_id.get("value") if isinstance(framework_id, dict) else None
    if not isinstance(value, str) or not value:
        raise Retryable("the master sent SUBSCRIBED without a framework id")
    interval = subscribed.get("heartbeat_interval_seconds", DEFAULT_HEARTBEAT_INTERVAL)
    if (
        not isinstance(interval, (int, float))
        or isinstance(interval, bool)
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise Retryable(
            f"the master sent SUBSCRIBED with a heartbeat interval of {server_text(repr(interval), 40)}, "
            "not a positive number of seconds"
        )
    return Subscribed(value, float(interval))


def error_message(event: Dict[str, Any]) -> str:
    """The message of an ERROR event, or :class:`Retryable` when it has none."""
    error = event.get("error")
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str):
        raise Retryable("the master sent an ERROR event without a message")
    return message


def read_events(
    resp: Any,
    *,
    stopped: Callable[[], bool],
    deadline: Deadline,
    silence: Callable[[], str],
    max_event_size: int = DEFAULT_MAX_RECORD,
) -> Iterator[Dict[str, Any]]:
    """The events of an open stream, until it ends or ``stopped()``.

    Silence is judged per event, not per read: the caller extends ``deadline``
    after each event, and when it passes (a master that says nothing, or
    trickles a byte now and then) the stream's socket is shut down and
    :class:`Retryable` is raised with ``silence()``. A broken stream, a record
    larger than ``max_event_size`` and a record that is not an event object raise
    :class:`Retryable` too; the good events before a bad record are yielded first.
    """
    decoder = RecordIODecoder(max_event_size)
    while not stopped():
        try:
            data = resp.read1(READ_SIZE)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if stopped():
                return
            if deadline.passed or isinstance(exc, socket.timeout):
                raise Retryable(silence()) from None
            raise Retryable(f"stream broke: {exc.__class__.__name__}") from None
        if not data:
            if deadline.passed and not stopped():
                raise Retryable(silence())
            return
        try:
            for record in decoder.records(data):
                yield parse_event(record)
        except RecordIOError as exc:
            raise Retryable(f"the event stream is broken: {exc}") from None
