"""The funnel's definition computed in plain Python, event by event, to check the SQL
against, and a way to store events of chosen kinds."""

import json
import math
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from events.funnels import FunnelStep
from events.services import EventRow, event_bulk_create


@dataclass(frozen=True)
class Stored:
    session_id: str
    timestamp: datetime
    category: str
    name: str
    data: dict = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def events_store(application_id: int, events: list[Stored]) -> None:
    rows = [
        EventRow(e.event_id, e.timestamp, e.session_id, e.category, e.name, json.dumps(e.data))
        for e in events
    ]
    for first in range(0, len(rows), 500):
        event_bulk_create(
            rows=rows[first : first + 500],
            application_id=application_id,
            received_at=timezone.now(),
        )


def events_truncate() -> None:
    """Empty the store between the examples of one test. The rows must be committed (the
    `store` fixture), as the worker's are: the write path stages them in a table that is
    emptied on commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events, event_counts_minute, event_counts_hour, session_activity_hour, "
            "event_value_counts_hour"
        )


def _matches(event: Stored, step: FunnelStep) -> bool:
    if (event.category, event.name) != (step.category, step.name):
        return False
    return step.data_key is None or event.data.get(step.data_key) == step.data_value


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between the closest ranks, as percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = share * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Expected:
    sessions: list[int]
    median: list[float | None]
    p90: list[float | None]
    # day -> (started, converted)
    trend: dict[datetime, tuple[int, int]]
    # step (1-based) -> sessions that stopped there
    stopped: dict[int, set[str]]


def funnel_expected(
    events: list[Stored],
    steps: list[FunnelStep],
    *,
    start: datetime,
    end: datetime,
    window: timedelta,
) -> Expected:
    by_session: dict[str, list[Stored]] = defaultdict(list)
    for event in events:
        by_session[event.session_id].append(event)
    count = len(steps)
    reached = [0] * count
    gaps: list[list[float]] = [[] for _ in steps]
    trend: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    stopped: dict[int, set[str]] = defaultdict(set)
    for session, session_events in by_session.items():
        ordered = sorted(session_events, key=lambda e: (e.timestamp, uuid.UUID(e.event_id)))
        best: list[Stored] | None = None
        for i, anchor in enumerate(ordered):
            if not (_matches(anchor, steps[0]) and start <= anchor.timestamp < end):
                continue
            path, position = [anchor], i
            for step in steps[1:]:
                following = next(
                    (j for j in range(position + 1, len(ordered)) if _matches(ordered[j], step)),
                    None,
                )
                if following is None or ordered[following].timestamp > anchor.timestamp + window:
                    break
                path.append(ordered[following])
                position = following
            # Anchors come in order, so only a longer path replaces the one kept.
            if best is None or len(path) > len(best):
                best = path
        if best is None:
            continue
        for k in range(len(best)):
            reached[k] += 1
            if k:
                gaps[k].append((best[k].timestamp - best[k - 1].timestamp).total_seconds())
        day = best[0].timestamp.replace(hour=0, minute=0, second=0, microsecond=0)
        trend[day][0] += 1
        trend[day][1] += len(best) == count
        if len(best) < count:
            stopped[len(best)].add(session)
    return Expected(
        sessions=reached,
        median=[None] + [percentile(g, 0.5) for g in gaps[1:]],
        p90=[None] + [percentile(g, 0.9) for g in gaps[1:]],
        trend={day: (a, b) for day, (a, b) in trend.items()},
        stopped=dict(stopped),
    )
