"""RecordIO, the framing of Mesos' event stream: ``<decimal length>\\n<bytes>``.

Fed with whatever the socket returns, it yields complete records; a record may
arrive in many pieces and one read may hold many records. A record announced
longer than ``max_record`` is refused as soon as its length is read, before any
of it is buffered: a hostile stream cannot make us hold more than that.
"""

from __future__ import annotations

from typing import Iterator, List

#: Default largest record: generous for a large OFFERS event of a big cluster.
DEFAULT_MAX_RECORD = 64 * 1024 * 1024
#: Longest length prefix we accept: a 20-digit size would be absurd.
_MAX_PREFIX = 20
#: What a length prefix is made of (surrounding whitespace is tolerated).
_PREFIX_BYTES = b"0123456789 \t\r"


class RecordIOError(ValueError):
    """The stream is not RecordIO (a bad length prefix), or a record is too large."""


class RecordIODecoder:
    def __init__(self, max_record: int = DEFAULT_MAX_RECORD) -> None:
        self.max_record = max_record
        self._buffer = bytearray()
        self._expected: int = -1

    def feed(self, data: bytes) -> List[bytes]:
        """Add ``data``; return the records it completed (maybe none)."""
        return list(self.records(data))

    def records(self, data: bytes) -> Iterator[bytes]:
        """Add ``data`` and yield the records it completed, one at a time.

        A broken prefix raises :class:`RecordIOError` only after the good records
        before it were yielded, so a consumer still gets those.
        """
        self._buffer += data
        return self._drain()

    def _drain(self) -> Iterator[bytes]:
        while True:
            if self._expected < 0:
                newline = self._buffer.find(b"\n", 0, _MAX_PREFIX + 1)
                if newline < 0:
                    if len(self._buffer) > _MAX_PREFIX:
                        raise RecordIOError("no record length within the first bytes of a record")
                    if bytes(self._buffer).strip(_PREFIX_BYTES):  # not even the start of a length
                        raise RecordIOError(f"bad record length prefix {bytes(self._buffer)!r}")
                    return
                prefix = bytes(self._buffer[:newline]).strip()
                if not prefix.isdigit():
                    raise RecordIOError(f"bad record length prefix {prefix[:_MAX_PREFIX]!r}")
                expected = int(prefix)
                if expected > self.max_record:
                    raise RecordIOError(f"a record of {expected} bytes is larger than the limit of {self.max_record}")
                self._expected = expected
                del self._buffer[: newline + 1]
            if len(self._buffer) < self._expected:
                return
            record = bytes(self._buffer[: self._expected])
            del self._buffer[: self._expected]
            self._expected = -1
            yield record

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete record."""
        return len(self._buffer)


def encode(record: bytes) -> bytes:
    return str(len(record)).encode("ascii") + b"\n" + record
