"""The fake master's event streams: one outbox per SUBSCRIBE connection, and the loop
that writes it out as RecordIO with heartbeats.

Each stream is written by the thread of its own connection (the server gives every
connection a thread), which sleeps on the master's Condition until there is
something to write: queued events, a heartbeat that fell due, or the end of the
stream. No busy loop, and no thread of its own per stream beyond the connection's.

Ending a stream takes three forms, as on a real master:

- ``finish()``: the queue is written, then the closing chunk (after an ERROR event,
  a TEARDOWN, a failover to a newer stream, ``stop()`` or ``reset()``);
- ``drop()``: the connection closes at once without the closing chunk, as when a
  master dies or the network cuts it (``drop_streams()``, ``go_down()``);
- the client hangs up: noticed at the next write, event or heartbeat (a real master
  notices sooner, from the socket; here it takes at most one heartbeat interval).

While the master is silent (``go_silent()``) nothing is written: events wait in
the queue and due heartbeats are counted as withheld. (unverified) What a hung
master writes when it recovers is not documented; here the held events go out,
the missed heartbeats do not.
"""

from __future__ import annotations

import collections
import threading
import time
import traceback
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple

from mesos_auth.testing._server import ChunkedStream
from mesos_auth.testing.master import events
from mesos_auth.testing.master.records import StreamRecord

JSON = Dict[str, Any]

_CLEAN = "clean"
_ABRUPT = "abrupt"


class EventStream:
    """One SUBSCRIBE connection's outbox. ``open`` turns False when its loop has ended."""

    def __init__(self, stream_id: str, next_heartbeat: float) -> None:
        self.stream_id = stream_id
        self.framework_id: Optional[str] = None
        self.queue: Deque[JSON] = collections.deque()
        self.closing = False
        self.abrupt = False
        self.open = True
        self.sent: List[str] = []
        self.withheld_heartbeats = 0
        self.next_heartbeat = next_heartbeat

    def push(self, event: JSON) -> None:
        if self.open and not self.closing and not self.abrupt:
            self.queue.append(event)

    def finish(self) -> None:
        """End cleanly once the queue is written."""
        self.closing = True

    def refuse(self, message: str) -> None:
        """Send an ERROR event and end: how Mesos refuses a subscription it accepted with 200."""
        self.push(events.error(message))
        self.finish()

    def drop(self) -> None:
        """End at once, without the closing chunk."""
        self.abrupt = True
        self.queue.clear()

    def record(self) -> StreamRecord:
        return StreamRecord(self.stream_id, self.framework_id, self.open, tuple(self.sent), self.withheld_heartbeats)


class StreamHub:
    """Every stream of one master, the loop that writes them, and silence.

    ``changed`` is the master's Condition: every state change notifies it, so a
    stream loop wakes when its framework gets an event. ``on_lost`` is told about a
    stream whose client hung up (the master starts the framework's failover timeout).
    """

    def __init__(
        self,
        changed: threading.Condition,
        heartbeat_interval: float,
        on_lost: Callable[[EventStream], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._changed = changed
        self.heartbeat_interval = heartbeat_interval
        self._on_lost = on_lost
        self._on_error = on_error
        self._streams: Dict[str, EventStream] = {}
        self._threads: Set[threading.Thread] = set()
        self.silent = False
        self.stopping = False

    def new_stream(self, stream_id: str) -> EventStream:
        """A stream whose first heartbeat after the initial one is due in one interval."""
        stream = EventStream(stream_id, time.monotonic() + self.heartbeat_interval)
        with self._changed:
            self._streams[stream_id] = stream
        return stream

    def records(self) -> Dict[str, StreamRecord]:
        with self._changed:
            return {sid: stream.record() for sid, stream in self._streams.items()}

    def thread_count(self) -> int:
        with self._changed:
            return len(self._threads)

    def open_streams(self) -> List[EventStream]:
        with self._changed:
            return [s for s in self._streams.values() if s.open and not s.abrupt]

    def finish_all(self) -> None:
        with self._changed:
            for stream in self._streams.values():
                stream.finish()
            self._changed.notify_all()

    def forget_ended(self) -> None:
        with self._changed:
            self._streams = {sid: s for sid, s in self._streams.items() if s.open}

    def join(self, timeout: float) -> None:
        """Wait for the stream loops to end (their connections then close)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- the loop, on the connection's thread ----------------------------------------

    def serve(self, stream: EventStream, out: ChunkedStream) -> None:
        current = threading.current_thread()
        with self._changed:
            self._threads.add(current)
        try:
            self._pump(stream, out)
        except Exception:
            self._on_error(f"event stream {stream.stream_id} failed:\n{traceback.format_exc()}")
        finally:
            with self._changed:
                stream.open = False
                stream.queue.clear()
                self._threads.discard(current)
                self._changed.notify_all()

    def _pump(self, stream: EventStream, out: ChunkedStream) -> None:
        while True:
            batch, ending = self._next_batch(stream)
            for event in batch:
                if not out.write(events.recordio(event)):
                    with self._changed:
                        self._on_lost(stream)  # the client hung up
                        self._changed.notify_all()
                    return
                with self._changed:
                    stream.sent.append(str(event.get("type")))
                    self._changed.notify_all()
            if ending == _ABRUPT:
                out.closed = True  # the connection closes without the closing chunk
                return
            if ending == _CLEAN:
                return

    def _next_batch(self, stream: EventStream) -> Tuple[List[JSON], Optional[str]]:
        """Wait for something to write (events, a due heartbeat) or for the stream to end."""
        with self._changed:
            while True:
                if self.stopping:
                    return [], _CLEAN
                if stream.abrupt:
                    return [], _ABRUPT
                now = time.monotonic()
                if self.silent:
                    if now >= stream.next_heartbeat:
                        stream.withheld_heartbeats += 1
                        stream.next_heartbeat = now + self.heartbeat_interval
                        self._changed.notify_all()
                    self._changed.wait(max(0.0, stream.next_heartbeat - time.monotonic()))
                    continue
                if stream.queue:
                    batch = list(stream.queue)
                    stream.queue.clear()
                    return batch, None
                if stream.closing:
                    return [], _CLEAN
                if now >= stream.next_heartbeat:
                    stream.next_heartbeat = now + self.heartbeat_interval
                    return [events.heartbeat()], None
                self._changed.wait(stream.next_heartbeat - now)
