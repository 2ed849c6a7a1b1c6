"""`Eye`: track events without waiting for the network, and query them back."""

import atexit
import os
import threading
import uuid
import weakref
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit, urlunsplit

import httpx

from eye_client.buffer import ON_FULL_POLICIES, Buffer, OnFull
from eye_client.events import SessionId, Timestamp, encode_event
from eye_client.query import MAX_PAGE_SIZE, Instant, Page, Reader, query_params
from eye_client.reports import FailureHandler, Ledger, Stats
from eye_client.retry import RetryPolicy
from eye_client.sender import CLOSED_REASON, BatchSender, run_sender
from eye_client.version import __version__

MAX_BATCH_EVENTS = 1000
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# After close() gives up on the batch in flight, how long it still waits for the thread.
JOIN_GRACE_SECONDS = 1.0


def endpoint_of(url: str) -> str:
    """The events endpoint of an Eye: `http://host:8000` → `http://host:8000/api/event/`.
    A URL that already ends in /api/event is kept."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"url must be an http(s) URL such as http://127.0.0.1:8000, not {url!r}")
    path = parts.path.rstrip("/")
    if not path.endswith("/api/event"):
        path += "/api/event"
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", ""))


class Eye:
    """A client of one Eye, with one application key.

    `track()` encodes the event and puts it in a bounded buffer, then returns; a background
    thread posts the buffer in batches of up to `batch_size` events (and at most
    `max_body_bytes` of JSON) as soon as a batch is full, or `flush_interval` seconds after
    the oldest waiting event was tracked. Each event carries a client-made `event_id`, so
    the retries after a 429, a 5xx or a network error (exponential backoff with full jitter,
    at least the server's Retry-After, at most `max_retries` times) never store it twice.

    When `max_buffer` events are waiting, `on_full` decides:

    - "drop_oldest" (the default): the oldest waiting event is dropped and counted; the
      caller never waits. Right for telemetry, where the newest events matter most and
      the application must not slow down because the Eye is away.
    - "block": track() waits for room (at most `block_timeout` seconds, then BufferFull).
      Right for bulk loads that must not lose anything.
    - "raise": track() raises BufferFull at once, and the caller decides.

    Events the Eye refuses (an invalid event in a 422: only that one, the rest of its batch
    is sent again; a bad key: the whole batch) are not retried. They and the dropped events
    are passed to `on_failure` (from the sender thread, or from the tracking thread for a
    drop to make room), or, without a callback, logged as warnings by the `eye_client`
    logger. `stats` counts it all.

    `flush()` waits until everything tracked so far is settled. `close()` (also called at
    interpreter exit, and by `with Eye(...)`) flushes for at most `shutdown_timeout`
    seconds, then drops what is left. The client is safe to share between threads.
    """

    def __init__(
        self,
        url: str,
        key: str,
        *,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        max_buffer: int = 10_000,
        on_full: OnFull = "drop_oldest",
        block_timeout: float | None = None,
        timeout: float = 10.0,
        max_retries: int | None = 10,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        shutdown_timeout: float = 10.0,
        on_failure: FailureHandler | None = None,
    ) -> None:
        if not key or not isinstance(key, str):
            raise ValueError("key must be the application's API key")
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}")
        if on_full not in ON_FULL_POLICIES:
            raise ValueError(f"on_full must be one of {', '.join(ON_FULL_POLICIES)}")
        if max_buffer < 1:
            raise ValueError("max_buffer must be at least 1")
        if flush_interval < 0 or timeout <= 0 or shutdown_timeout < 0:
            raise ValueError("flush_interval, timeout and shutdown_timeout must be positive")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries must be 0 or more, or None for no limit")
        self.endpoint = endpoint_of(url)
        self.batch_size = batch_size
        self.max_body_bytes = max_body_bytes
        self.shutdown_timeout = shutdown_timeout
        self._key = key
        self._timeout = timeout
        self._policy = RetryPolicy(max_retries, backoff_base, backoff_max)
        self._buffer_options: dict[str, Any] = {
            "max_size": max_buffer,
            "on_full": on_full,
            "block_timeout": block_timeout,
            "batch_size": batch_size,
            "flush_interval": flush_interval,
        }
        self._ledger = Ledger(on_failure)
        self._reader_http: httpx.Client | None = None
        self._closed = False
        self._fresh_sender_state()
        _live_clients.add(self)

    def _fresh_sender_state(self) -> None:
        self._buffer = Buffer(**self._buffer_options)
        self._abort = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._send_http: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        return httpx.Client(
            headers={
                "Authorization": f"Bearer {self._key}",
                "User-Agent": f"eye-client/{__version__}",
            },
            timeout=self._timeout,
        )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Eye {self.endpoint} {state} {self.stats}>"

    # Sending.

    def track(
        self,
        session_id: SessionId,
        category: str,
        name: str,
        data: Mapping[str, Any] | None = None,
        timestamp: Timestamp | None = None,
        event_id: str | uuid.UUID | None = None,
    ) -> str:
        """Queue one event for sending and return its event_id at once.

        `timestamp` defaults to now; a naive datetime is read as UTC. `event_id` defaults
        to a new uuid4; pass your own to make resending from your side idempotent too.
        Raises TypeError or ValueError for a value that cannot be sent at all, EyeClosed
        after close(), and BufferFull under the "raise" and "block" policies.
        """
        event_id, body = encode_event(
            session_id=session_id,
            category=category,
            name=name,
            data=data,
            timestamp=timestamp,
            event_id=event_id,
        )
        if len(body) + 2 > self.max_body_bytes:
            raise ValueError(
                f"the event is {len(body)} bytes of JSON, over the body limit of "
                f"{self.max_body_bytes}; the Eye would refuse it"
            )
        self._start_sender()
        dropped = self._buffer.put(body)
        self._ledger.tracked()
        if dropped:
            self._ledger.dropped(
                [item.body for item in dropped],
                reason=f"the buffer was full ({self._buffer.max_size} events waiting)",
            )
        return event_id

    def _start_sender(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is not None or self._buffer.closed:
                return
            self._send_http = self._http()
            sender = BatchSender(
                http=self._send_http,
                endpoint=self.endpoint,
                policy=self._policy,
                ledger=self._ledger,
                abort=self._abort,
            )
            thread = threading.Thread(
                target=run_sender,
                args=(self._buffer, sender),
                kwargs={"max_bytes": self.max_body_bytes},
                name="eye-client-sender",
                # Daemon, so that a forgotten client cannot keep the process alive; the
                # atexit hook below gives it its chance to finish first.
                daemon=True,
            )
            atexit.register(self._close_at_exit)
            thread.start()
            self._thread = thread

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything tracked so far now, and wait until each of those events is
        settled (acknowledged, refused or dropped). Returns False if `timeout` seconds
        passed first (None: wait as long as it takes)."""
        self._not_from_sender("flush")
        if self._thread is None:
            return True
        return self._buffer.wait_settled(self._buffer.mark(), timeout)

    def close(self, timeout: float | None = None) -> None:
        """Stop accepting events, send what is buffered, and release the connection.

        Waits at most `timeout` seconds (default: `shutdown_timeout`) for the buffer to be
        settled; what is still unsent then is dropped and reported, and the request in
        flight gets one more second. Calling it again does nothing.
        """
        self._not_from_sender("close")
        # Under the start lock, so that a track() in another thread either started the
        # sender before this (and its event is waited for) or finds the buffer closed.
        with self._start_lock:
            if self._closed:
                return
            self._closed = True
            mark = self._buffer.close()
            thread = self._thread
        atexit.unregister(self._close_at_exit)
        if thread is not None:
            wait = self.shutdown_timeout if timeout is None else timeout
            if not self._buffer.wait_settled(mark, wait):
                self._abort.set()
                left = self._buffer.discard()
                self._ledger.dropped([item.body for item in left], reason=CLOSED_REASON)
            self._ledger.drops_log()
            thread.join(JOIN_GRACE_SECONDS)
            # A thread still inside a request keeps its connection; it is a daemon and
            # will find the abort flag when the request ends.
            if not thread.is_alive() and self._send_http is not None:
                self._send_http.close()
        if self._reader_http is not None:
            self._reader_http.close()

    def _close_at_exit(self) -> None:
        self.close()

    def _not_from_sender(self, what: str) -> None:
        # From the on_failure callback, waiting for the sender would wait for itself.
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{what}() cannot be called from the on_failure callback")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stats(self) -> Stats:
        """Counters of what became of the tracked events; see `Stats`."""
        return self._ledger.snapshot(buffered=self._buffer.size())

    # Reading.

    def _reader(self) -> Reader:
        with self._start_lock:
            if self._reader_http is None:
                self._reader_http = self._http()
        return Reader(http=self._reader_http, endpoint=self.endpoint, policy=self._policy)

    def pages(
        self,
        *,
        session_id: str | None = None,
        category: str | None = None,
        name: str | None = None,
        application: str | None = None,
        timestamp_start: Instant | None = None,
        timestamp_end: Instant | None = None,
        page_size: int = 100,
    ) -> Iterator[Page]:
        """The pages of a query, newest events first, following `next` until the end.
        Raises EyeHTTPError for an error answer (422 names the bad filter) and
        EyeConnectionError when the Eye cannot be reached even after retrying."""
        params = query_params(
            session_id=session_id,
            category=category,
            name=name,
            application=application,
            timestamp_start=timestamp_start,
            timestamp_end=timestamp_end,
            page_size=page_size,
        )
        return self._reader().pages(params)

    def query(
        self,
        *,
        session_id: str | None = None,
        category: str | None = None,
        name: str | None = None,
        application: str | None = None,
        timestamp_start: Instant | None = None,
        timestamp_end: Instant | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """The matching events, newest first, fetched page by page as you iterate.

        Filters are exact matches (`application` names one application, for a key that
        reads every application); `timestamp_start`/`timestamp_end` are inclusive and take
        a datetime, a date (the whole day) or an ISO 8601 string. `limit` stops after that
        many events (None: all of them); `page_size` is the events per request (at most
        1,000). Raises as `pages()` does.
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must be 0 or more")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            # Checked before the limit shrinks it, which would hide a page_size of 0.
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if limit is not None:
            page_size = max(1, min(page_size, limit))
        # Built here, not inside a generator, so that a bad argument fails at the call.
        pages = self.pages(
            session_id=session_id,
            category=category,
            name=name,
            application=application,
            timestamp_start=timestamp_start,
            timestamp_end=timestamp_end,
            page_size=page_size,
        )
        return _events_of(pages, limit)

    def _after_fork_in_child(self) -> None:
        """A forked child has the buffer but not the thread, and shares the parent's
        sockets. It starts empty, with its own connection and thread on its first track():
        the parent sends what was buffered before the fork."""
        self._ledger.reset_lock()
        self._fresh_sender_state()
        self._reader_http = None


def _events_of(pages: Iterator[Page], limit: int | None) -> Iterator[dict[str, Any]]:
    if limit == 0:
        return
    given = 0
    for page in pages:
        for event in page.results:
            yield event
            given += 1
            if limit is not None and given >= limit:
                return


_live_clients: "weakref.WeakSet[Eye]" = weakref.WeakSet()


def _reset_clients_in_child() -> None:
    for client in list(_live_clients):
        if not client._closed:
            client._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_clients_in_child)
