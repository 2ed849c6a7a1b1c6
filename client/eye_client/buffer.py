"""The bounded buffer between track() and the sender thread.

Every event gets a sequence number when it is tracked. Events leave the buffer in that
order (the waiting queue is FIFO and there is one sender), so "everything tracked before
this flush() is settled" is simply "the oldest unsettled event is at or past the mark".
"""

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

from eye_client.errors import BufferFull, EyeClosed

OnFull = Literal["drop_oldest", "block", "raise"]
ON_FULL_POLICIES: tuple[OnFull, ...] = ("drop_oldest", "block", "raise")


@dataclass(slots=True)
class Item:
    seq: int
    body: bytes
    queued_at: float


class Buffer:
    """Events waiting to be sent, the batch in flight, and the marks flush() waits on.

    One lock guards it all; three conditions on that lock wake the three kinds of waiter:
    the sender (a batch is due), producers under the "block" policy (there is room) and
    flush() callers (events were settled).
    """

    def __init__(
        self,
        *,
        max_size: int,
        on_full: OnFull,
        block_timeout: float | None,
        batch_size: int,
        flush_interval: float,
    ) -> None:
        self.max_size = max_size
        self.on_full = on_full
        self.block_timeout = block_timeout
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._lock = threading.Lock()
        self._batch_due = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._settled = threading.Condition(self._lock)
        self._waiting: deque[Item] = deque()
        self._in_flight: list[Item] = []
        self._next_seq = 0
        # Events numbered below this are sent at once, without waiting for a full batch
        # or for the interval: flush() and close() raise it.
        self._urgent_below = 0
        self._closed = False

    def put(self, body: bytes) -> list[Item]:
        """Queue one encoded event; returns the events dropped to make room for it."""
        dropped: list[Item] = []
        with self._lock:
            if self._closed:
                raise EyeClosed("this Eye client is closed")
            if len(self._waiting) >= self.max_size:
                if self.on_full == "raise":
                    raise BufferFull(f"{len(self._waiting)} events are waiting to be sent")
                if self.on_full == "drop_oldest":
                    dropped.append(self._waiting.popleft())
                    # The oldest waiting event may have been what a flush() waited on.
                    self._settled.notify_all()
                else:
                    self._wait_for_room()
            self._waiting.append(Item(self._next_seq, body, time.monotonic()))
            self._next_seq += 1
            # Waking the sender for every event would cost a context switch each; it only
            # needs to know when its interval starts and when a batch is full.
            if len(self._waiting) == 1 or len(self._waiting) >= self.batch_size:
                self._batch_due.notify()
        return dropped

    def _wait_for_room(self) -> None:
        room = self._room.wait_for(
            lambda: self._closed or len(self._waiting) < self.max_size, self.block_timeout
        )
        if self._closed:
            raise EyeClosed("this Eye client was closed while track() waited for room")
        if not room:
            raise BufferFull(f"the buffer stayed full for {self.block_timeout} s")

    def take(self, *, max_bytes: int) -> list[Item] | None:
        """Wait until a batch is due, move it in flight and return it; None once the buffer
        is closed and empty. A batch holds at most batch_size events, and its JSON array
        at most max_bytes."""
        with self._lock:
            while True:
                timeout = self._time_until_due()
                if timeout is not None and timeout <= 0:
                    break
                if timeout is None and self._closed:
                    return None
                self._batch_due.wait(timeout)
            batch: list[Item] = []
            size = 2  # the brackets of the array
            while self._waiting and len(batch) < self.batch_size:
                extra = len(self._waiting[0].body) + (1 if batch else 0)
                if batch and size + extra > max_bytes:
                    break
                batch.append(self._waiting.popleft())
                size += extra
            self._in_flight = batch
            self._room.notify_all()
            return batch

    def _time_until_due(self) -> float | None:
        """Seconds until the next batch is due (0 or less: now); None when nothing waits."""
        if not self._waiting:
            return None
        oldest = self._waiting[0]
        if self._closed or len(self._waiting) >= self.batch_size or oldest.seq < self._urgent_below:
            return 0.0
        return oldest.queued_at + self.flush_interval - time.monotonic()

    def settle(self) -> None:
        """The batch in flight has met its fate (sent, refused or dropped)."""
        with self._lock:
            self._in_flight = []
            self._settled.notify_all()

    def _oldest_unsettled(self) -> int:
        if self._in_flight:
            return self._in_flight[0].seq
        if self._waiting:
            return self._waiting[0].seq
        return self._next_seq

    def mark(self) -> int:
        """Ask for everything tracked so far to be sent now; returns the mark to wait for."""
        with self._lock:
            self._urgent_below = self._next_seq
            self._batch_due.notify()
            return self._next_seq

    def wait_settled(self, mark: int, timeout: float | None) -> bool:
        """Wait until every event numbered below `mark` is settled; False on timeout."""
        with self._lock:
            return self._settled.wait_for(lambda: self._oldest_unsettled() >= mark, timeout)

    def close(self) -> int:
        """Refuse new events and send the waiting ones at once; returns the final mark."""
        with self._lock:
            self._closed = True
            self._urgent_below = self._next_seq
            self._batch_due.notify_all()
            self._room.notify_all()
            return self._next_seq

    def discard(self) -> list[Item]:
        """Remove and return every waiting event (not the batch in flight)."""
        with self._lock:
            items = list(self._waiting)
            self._waiting.clear()
            self._settled.notify_all()
            self._batch_due.notify_all()
            return items

    def size(self) -> int:
        with self._lock:
            return len(self._waiting) + len(self._in_flight)

    @property
    def closed(self) -> bool:
        return self._closed
