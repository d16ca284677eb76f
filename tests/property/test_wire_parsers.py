"""Properties of the parsers that read what the network sends: a result or a typed error, never anything else.

- the RecordIO decoder, fed arbitrary bytes cut at arbitrary places: records, or
  :class:`RecordIOError`; never a record over the limit, never more buffered than
  the limit allows; and what it yields does not depend on how the bytes were cut;
- the event parser: an event object, or :class:`Retryable`;
- the master-address parser and the redirect resolver: an address (http or https,
  a host, a port in range) or :class:`ConfigurationError`; https never becomes http;
- the SUBSCRIBE-answer classifier: for any status, text and Location, one of the
  documented outcomes.
"""

from __future__ import annotations

import contextlib
import json
from typing import List

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesos_auth.errors import (
    AuthenticationFailedError,
    ConfigurationError,
    PrincipalMismatchError,
    SubscriptionRefusedError,
)
from mesos_auth.master_uri import MasterAddress, follow_redirect, parse_master, parse_masters
from mesos_auth.recordio import RecordIODecoder, RecordIOError, encode
from mesos_auth.subscription import (
    Redirect,
    Retryable,
    check_subscribe_answer,
    check_subscribed,
    error_message,
    parse_event,
)

BOUNDED = settings(max_examples=200, deadline=None)
LIMIT = 1024


def _feed(decoder: RecordIODecoder, data: bytes, cuts: List[int]) -> List[bytes]:
    records: List[bytes] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in zip(points, points[1:]):
        records.extend(decoder.records(data[start:end]))
        assert decoder.pending <= LIMIT + 32  # never more than one record and its prefix
    return records


@BOUNDED
@given(st.binary(max_size=4096), st.lists(st.integers(min_value=0, max_value=4096), max_size=20))
def test_recordio_on_arbitrary_bytes(data: bytes, cuts: List[int]) -> None:
    decoder = RecordIODecoder(max_record=LIMIT)
    try:
        records = _feed(decoder, data, cuts)
    except RecordIOError:
        return
    assert all(len(r) <= LIMIT for r in records)


@BOUNDED
@given(st.lists(st.binary(max_size=300), max_size=12), st.lists(st.integers(min_value=0, max_value=5000), max_size=30))
def test_recordio_yields_the_same_records_however_the_stream_is_cut(payloads: List[bytes], cuts: List[int]) -> None:
    stream = b"".join(encode(p) for p in payloads)
    whole = RecordIODecoder(max_record=LIMIT).feed(stream)
    assert whole == payloads
    assert _feed(RecordIODecoder(max_record=LIMIT), stream, cuts) == payloads


@BOUNDED
@given(st.lists(st.binary(max_size=50), max_size=5), st.binary(min_size=1, max_size=40))
def test_good_records_before_garbage_are_yielded_first(payloads: List[bytes], garbage: bytes) -> None:
    stream = b"".join(encode(p) for p in payloads) + b"x" + garbage  # 'x' can never start a length
    seen: List[bytes] = []
    with pytest.raises(RecordIOError):
        for record in RecordIODecoder(max_record=LIMIT).records(stream):
            seen.append(record)
    assert seen == payloads


@BOUNDED
@given(st.integers(min_value=LIMIT + 1, max_value=10**19))
def test_an_announced_record_over_the_limit_is_refused_before_it_is_read(length: int) -> None:
    decoder = RecordIODecoder(max_record=LIMIT)
    with pytest.raises(RecordIOError, match="larger than the limit"):
        decoder.feed(str(length).encode() + b"\n")


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@BOUNDED
@given(st.one_of(st.binary(max_size=500), JSON.map(lambda v: json.dumps(v).encode())))
def test_parse_event_on_arbitrary_records(record: bytes) -> None:
    try:
        event = parse_event(record)
    except Retryable:
        return
    assert isinstance(event, dict)
    for check in (check_subscribed, error_message):
        with contextlib.suppress(Retryable):
            check(event)


@BOUNDED
@given(
    st.dictionaries(
        st.sampled_from(["type", "subscribed", "error", "framework_id", "heartbeat_interval_seconds"]), JSON, max_size=4
    )
)
def test_subscribed_and_error_checks_on_arbitrary_events(event: dict) -> None:
    try:
        subscribed = check_subscribed({"type": "SUBSCRIBED", **event})
        assert subscribed.framework_id and subscribed.heartbeat_interval > 0
    except Retryable:
        pass
    with contextlib.suppress(Retryable):
        assert isinstance(error_message({"type": "ERROR", **event}), str)


def _valid(address: MasterAddress) -> None:
    assert address.scheme in ("http", "https")
    assert address.host and 0 <= address.port <= 65535


ADDRESS_TEXT = st.one_of(
    st.text(max_size=60),
    st.from_regex(r"(https?://|zk://|ftp://|//)?\[?[a-z0-9.:\-]{0,20}\]?(:[0-9]{0,6})?(/[a-z]{0,5})?", fullmatch=True),
)


@BOUNDED
@given(ADDRESS_TEXT, st.sampled_from(["http", "https"]))
def test_master_addresses_parse_or_fail_typed(text: str, default_scheme: str) -> None:
    try:
        addresses = parse_masters(text, default_scheme)
    except ConfigurationError:
        return
    for address in addresses:
        _valid(address)
    if "," not in text:
        assert addresses == (parse_master(text, default_scheme),)


@BOUNDED
@given(st.one_of(st.none(), ADDRESS_TEXT), st.sampled_from(["http", "https"]))
def test_redirects_resolve_or_fail_typed_and_never_downgrade(location: str, scheme: str) -> None:
    current = MasterAddress(scheme, "127.0.0.1", 5050)
    try:
        target = follow_redirect(current, location)
    except ConfigurationError:
        return
    _valid(target)
    if current.tls:
        assert target.tls


@BOUNDED
@given(
    st.integers(min_value=100, max_value=599),
    st.text(max_size=200),
    st.one_of(st.none(), ADDRESS_TEXT),
    st.booleans(),
)
def test_every_subscribe_answer_has_a_documented_meaning(status: int, text: str, location: str, sent: bool) -> None:
    address = MasterAddress("https", "127.0.0.1", 5050)
    try:
        check_subscribe_answer(address, status, text, location, sent_credentials=sent, principal="p", uid="u")
    except Redirect as redirect:
        assert status == 307 and redirect.target.tls
    except AuthenticationFailedError:
        assert status == 401
    except PrincipalMismatchError:
        assert status == 400
    except SubscriptionRefusedError:
        assert status in (400, 403)
    except Retryable:
        assert status not in (200, 401, 403) and (status != 400)
    else:
        assert status == 200
