"""RecordIO, the framing of Mesos' event stream: ``<decimal length>\\n<bytes>``.

Fed with whatever the socket returns, it yields complete records; a record may
arrive in many pieces and one read may hold many records.
"""

from __future__ import annotations

from typing import Iterator, List


class RecordIOError(ValueError):
    """The stream is not RecordIO (a bad length prefix)."""


#: Longest length prefix we accept: a 20-digit size would be absurd.
_MAX_PREFIX = 20


class RecordIODecoder:
    def __init__(self) -> None:
        self._buffer = bytearray()
        self._expected: int = -1

    def feed(self, data: bytes) -> List[bytes]:
        """Add ``data``; return the records it completed (maybe none)."""
        self._buffer += data
        return list(self._drain())

    def _drain(self) -> Iterator[bytes]:
        while True:
            if self._expected < 0:
                newline = self._buffer.find(b"\n")
                if newline < 0:
                    if len(self._buffer) > _MAX_PREFIX:
                        raise RecordIOError("no record length within the first bytes of a record")
                    return
                prefix = bytes(self._buffer[:newline]).strip()
                if not prefix.isdigit() or newline > _MAX_PREFIX:
                    raise RecordIOError(f"bad record length prefix {prefix[:_MAX_PREFIX]!r}")
                self._expected = int(prefix)
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
