"""Following new events by polling GET /api/event/.

The API orders by the event's own timestamp, so "new" cannot be "after the last one seen".
Each poll reads a window reaching `lookback` seconds behind the newest timestamp seen (an
event reaches the store a little after its timestamp: the app's buffer, the queue, the
worker) and compares it with the previous poll's window by `event_id`, which every result
carries, with the timestamp and application (the store keeps an id once per timestamp and
application). Against an older Eye whose results have no `event_id`, events are told apart
by (timestamp, session_id, category, name, data), counted rather than merely seen, so that
two identical events in the window are still both printed.
"""

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from eye_client.client import Eye
from eye_client.events import format_instant

EventKey = tuple[str, ...]
WINDOW_PAGE_SIZE = 1000


def event_key(event: dict[str, Any]) -> EventKey:
    event_id = event.get("event_id")
    if event_id:
        # What the store keeps once: one id may come again with another timestamp, or in
        # another application (a key reading them all), and then it is another event.
        return (str(event_id), str(event.get("timestamp")), str(event.get("application", "")))
    return (
        str(event.get("timestamp")),
        str(event.get("session_id")),
        str(event.get("category")),
        str(event.get("name")),
        json.dumps(event.get("data"), sort_keys=True, separators=(",", ":")),
    )


def instant_of(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]))


class Follower:
    def __init__(
        self,
        eye: Eye,
        filters: dict[str, str],
        *,
        lookback: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.eye = eye
        self.filters = filters
        self.lookback = timedelta(seconds=lookback)
        self.clock = clock
        self.seen: Counter[EventKey] = Counter()
        self.horizon: datetime | None = None

    def start(self, lines: int) -> list[dict[str, Any]]:
        """Remember what is there now, and return the newest `lines` events, oldest first."""
        newest = next(iter(self.eye.query(**self.filters, limit=1)), None)
        self.horizon = instant_of(newest) if newest else self.clock()
        window = self._window()
        self.seen = Counter(event_key(event) for event in window)
        shown = window[:lines]
        if len(shown) < lines:
            # A quiet stream: fill up with what came before the window.
            before = self._window_start() - timedelta(microseconds=1)
            shown += self.eye.query(**self.filters, timestamp_end=before, limit=lines - len(shown))
        return shown[::-1]

    def poll(self) -> list[dict[str, Any]]:
        """Events not in the previous window, oldest first."""
        window = self._window()
        current = Counter(event_key(event) for event in window)
        fresh: list[dict[str, Any]] = []
        for event in reversed(window):
            key = event_key(event)
            if current[key] > self.seen[key]:
                fresh.append(event)
                self.seen[key] += 1
        # The window moves forward: what fell out of it will not be read again.
        self.seen = current
        if window:
            self.horizon = max(self.horizon or instant_of(window[0]), instant_of(window[0]))
        return fresh

    def _window_start(self) -> datetime:
        assert self.horizon is not None
        # Capped at the present: one event stamped minutes ahead by a fast clock must not
        # carry the window past the events of everyone else.
        return min(self.horizon, self.clock()) - self.lookback

    def _window(self) -> list[dict[str, Any]]:
        start = format_instant(self._window_start())
        return list(
            self.eye.query(**self.filters, timestamp_start=start, page_size=WINDOW_PAGE_SIZE)
        )
