"""What an export says about itself: how many rows and about how many bytes before it
starts, whether that is large, and how far it has got while it streams.

A 30-day CSV can run to hundreds of megabytes and half a minute. Explore therefore shows
the row count and a size estimate beside the export links (and a warning past
EXPORT_LARGE_BYTES), and a page that starts an export passes a `progress` token, under
which the stream keeps its row count in the cache for dashboard/static/dashboard/export.js
to poll. The file itself still streams straight to the browser's own download.
"""

import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.cache import cache

from events.stats import EventCount

# Past this estimate an export is called large on the page.
EXPORT_LARGE_BYTES = 50 * 1024 * 1024
# How often (in rows) a streaming export records its progress: often enough for a
# progress line that moves every second, rarely enough to cost nothing.
PROGRESS_EVERY = 2_000
# A progress entry outlives the slowest export that still moves.
PROGRESS_SECONDS = 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

Row = TypeVar("Row")


@dataclass(frozen=True)
class ExportEstimate:
    """The rows an export will hold (at least, when the count is capped) and roughly how
    many bytes each format takes."""

    rows: int | None
    exact: bool
    csv_bytes: int | None
    ndjson_bytes: int | None

    @property
    def large(self) -> bool:
        return max(self.csv_bytes or 0, self.ndjson_bytes or 0) >= EXPORT_LARGE_BYTES


def export_estimate(
    *, count: EventCount, csv_sample: Iterable[str], ndjson_sample: Iterable[bytes]
) -> ExportEstimate:
    """The count, and the sizes that the sample rows (serialised as the export writes
    them) make when there are `count` of them."""
    csv_rows = [len(line.encode()) for line in csv_sample]
    ndjson_rows = [len(line) for line in ndjson_sample]
    if count.value is None or not ndjson_rows:
        return ExportEstimate(count.value, count.exact, None, None)
    # The CSV sample starts with its header line.
    header, csv_rows = csv_rows[0], csv_rows[1:]
    return ExportEstimate(
        rows=count.value,
        exact=count.exact,
        csv_bytes=header + sum(csv_rows) * count.value // len(csv_rows),
        ndjson_bytes=sum(ndjson_rows) * count.value // len(ndjson_rows),
    )


def export_token_clean(token: str | None) -> str | None:
    """A page's progress token, or None when there is none or it is not one a page makes."""
    return token if token and _TOKEN.fullmatch(token) else None


def _progress_key(token: str) -> str:
    return f"dashboard:export-progress:{token}"


def export_progress_track(
    rows: Iterable[Row], *, token: str | None, total: int | None
) -> Iterator[Row]:
    """The rows unchanged, recording under `token` how many have gone out, and whether
    the last has (`done`) or the stream ended before it (`stopped`: the download was
    cancelled or cut off, and the server closed the stream, or a row failed)."""
    if token is None:
        yield from rows
        return
    key = _progress_key(token)
    sent = 0

    def record(*, done: bool = False, stopped: bool = False) -> None:
        progress = {"rows": sent, "total": total, "done": done, "stopped": stopped}
        cache.set(key, progress, PROGRESS_SECONDS)

    record()
    try:
        for row in rows:
            sent += 1
            if sent % PROGRESS_EVERY == 0:
                record()
            yield row
    except BaseException:
        # GeneratorExit when the server closes the stream of a client that went away:
        # the page polling this would otherwise say "Exporting" for the next hour.
        record(stopped=True)
        raise
    record(done=True)


def export_progress_get(*, token: str) -> dict[str, Any] | None:
    return cache.get(_progress_key(token))


class HeldWhileStreaming(Generic[Row]):
    """A streaming response's body that keeps what `held` holds (an export slot) until the
    response is closed: the server closes it once the body is sent, once the client went
    away, and also when it never iterated it (a HEAD request), which a generator's own
    `finally` would not see."""

    def __init__(self, body: Iterator[Row], held: ExitStack) -> None:
        self.body = body
        self.held = held

    def __iter__(self) -> Iterator[Row]:
        return self.body

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.held.close()
