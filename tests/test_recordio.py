"""RecordIO decoding, whatever the pieces the socket hands over."""

from __future__ import annotations

import json

import pytest

from mesos_auth.recordio import RecordIODecoder, RecordIOError, encode

RECORDS = [json.dumps({"type": "HEARTBEAT"}).encode(), b"", json.dumps({"x": "y" * 5000}).encode(), b"\n12\n"]
STREAM = b"".join(encode(r) for r in RECORDS)


@pytest.mark.parametrize("piece", [1, 2, 3, 7, 100, 4096, len(STREAM)])
def test_any_split_gives_the_same_records(piece) -> None:
    decoder = RecordIODecoder()
    out = []
    for start in range(0, len(STREAM), piece):
        out += decoder.feed(STREAM[start : start + piece])
    assert out == RECORDS and decoder.pending == 0


def test_partial_record_waits() -> None:
    decoder = RecordIODecoder()
    assert decoder.feed(b"5\nab") == []
    assert decoder.pending == 2
    assert decoder.feed(b"cde3\nxyz") == [b"abcde", b"xyz"]


@pytest.mark.parametrize("garbage", [b"HTTP/1.1 200\n", b"-5\nabc", b"1" * 30])
def test_garbage_is_an_error(garbage) -> None:
    with pytest.raises(RecordIOError):
        RecordIODecoder().feed(garbage)
