"""What became of the tracked events: counters, and the report of each event that will
not be stored."""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eye_client.errors import describe_errors
from eye_client.events import decode_event

logger = logging.getLogger("eye_client")

# A full buffer can drop an event on every track(); one warning per interval is enough.
DROP_LOG_INTERVAL = 10.0


@dataclass(frozen=True, slots=True)
class Stats:
    """A snapshot of the client's counters.

    tracked: events accepted by track().
    sent: events the Eye acknowledged (202): they will be stored.
    refused: events the Eye refused for good (422 for that event, or 400/401/403/413/...
        for the whole batch); they are not retried.
    dropped: events the client gave up on: the buffer was full ("drop_oldest"), the
        retries ran out, or close() timed out before they could be sent.
    retried: requests that were sent again after a 429, a 5xx or a network error.
    buffered: events waiting to be sent or in flight right now.
    """

    tracked: int = 0
    sent: int = 0
    refused: int = 0
    dropped: int = 0
    retried: int = 0
    buffered: int = 0


@dataclass(frozen=True, slots=True)
class Failure:
    """Events that will not be stored, and why.

    kind is "refused" (the Eye said no; `status` and the Eye's `errors` for these events
    say why) or "dropped" (the client gave up; `reason` says why, `status` is None or the
    last status seen).
    """

    kind: Literal["refused", "dropped"]
    events: list[dict[str, Any]]
    reason: str
    status: int | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


FailureHandler = Callable[[Failure], None]


class Ledger:
    """The counters behind `Eye.stats`, and the hand-off of failures to the application's
    callback (or, without one, to the `eye_client` logger)."""

    def __init__(self, on_failure: FailureHandler | None) -> None:
        self._lock = threading.Lock()
        self._on_failure = on_failure
        self._counts = {"tracked": 0, "sent": 0, "refused": 0, "dropped": 0, "retried": 0}
        # Drops not logged yet, by reason: a full buffer's and a close's are told apart.
        self._unlogged_drops: dict[str, int] = {}
        self._last_drop_log = -DROP_LOG_INTERVAL

    def reset_lock(self) -> None:
        """After a fork: the parent's lock may have been held by a thread that the child
        does not have."""
        self._lock = threading.Lock()

    def _add(self, counter: str, n: int) -> None:
        with self._lock:
            self._counts[counter] += n

    def snapshot(self, buffered: int) -> Stats:
        with self._lock:
            return Stats(**self._counts, buffered=buffered)

    def tracked(self) -> None:
        self._add("tracked", 1)

    def sent(self, n: int) -> None:
        self._add("sent", n)

    def retried(self, problem: str, wait: float) -> None:
        self._add("retried", 1)
        logger.info("eye: retrying in %.2f s after %s", wait, problem)

    def refused(
        self,
        bodies: Sequence[bytes],
        *,
        status: int,
        errors: list[dict[str, Any]],
        reason: str,
    ) -> None:
        self._add("refused", len(bodies))
        if self._on_failure is None:
            detail = describe_errors(errors)
            logger.warning(
                "eye: %d event(s) refused (HTTP %s): %s%s",
                len(bodies),
                status,
                reason,
                f" ({detail})" if detail else "",
            )
            return
        self._report(Failure("refused", [decode_event(b) for b in bodies], reason, status, errors))

    def dropped(self, bodies: Sequence[bytes], *, reason: str, status: int | None = None) -> None:
        if not bodies:
            return
        self._add("dropped", len(bodies))
        if self._on_failure is None:
            self._log_drop(len(bodies), reason)
            return
        self._report(Failure("dropped", [decode_event(b) for b in bodies], reason, status))

    def _log_drop(self, n: int, reason: str) -> None:
        with self._lock:
            self._unlogged_drops[reason] = self._unlogged_drops.get(reason, 0) + n
            if time.monotonic() - self._last_drop_log < DROP_LOG_INTERVAL:
                return
        self.drops_log()

    def drops_log(self) -> None:
        """Log the drops not logged yet, a line per reason: at most once an interval while
        the client runs, and once more when it closes, so that none goes unsaid."""
        with self._lock:
            pending, self._unlogged_drops = self._unlogged_drops, {}
            self._last_drop_log = time.monotonic()
        for reason, n in pending.items():
            logger.warning("eye: %d event(s) dropped: %s", n, reason)

    def _report(self, failure: Failure) -> None:
        assert self._on_failure is not None
        try:
            self._on_failure(failure)
        except Exception:
            # The callback is the application's code; its bug must not stop delivery.
            logger.exception("eye: the on_failure callback raised")
