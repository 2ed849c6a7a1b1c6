"""Breakdowns: events per bucket for the most frequent values of a data key, the rest
summed as "other".

The events are those of events.selectors.event_list with the filters given, so that a
breakdown counts exactly what Explore lists for the same filters; the counting is one
statement over the raw events, grouped in the database.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.insight_sql import insight_fetchall
from events.rollups import Granularity
from events.selectors import event_list

TOP_VALUES = 10


@dataclass(frozen=True)
class BreakdownSeries:
    # None for the one series of a breakdown by no key.
    value: str | None
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class Breakdown:
    granularity: Granularity
    buckets: list[datetime]
    series: list[BreakdownSeries]
    # Every other value, and the events without the key.
    other: list[int]

    @property
    def other_total(self) -> int:
        return sum(self.other)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.series) + self.other_total


def key_path(key: str) -> list[str]:
    """A dotted key (`form.plan`) as the path of objects it reaches into."""
    return key.split(".")


def breakdown_series(
    *,
    key: str | None,
    start: datetime,
    end_exclusive: datetime,
    granularity: Granularity,
    limit: int = TOP_VALUES,
    **filters: Any,
) -> Breakdown:
    """Counts per bucket of [start, end_exclusive) (aligned on `granularity`) for the
    `limit` most frequent values of `key`. `filters` are those of event_list. Without a key,
    one series of every matching event. A value is the key's JSON value as text (a string
    as itself, `49.0`, `true`), and events without the key count in `other`."""
    events = event_list(start=start, end_exclusive=end_exclusive, **filters).order_by()
    sql, params = events.values_list("timestamp", "data").query.sql_with_params()
    value = "data #>> %s" if key else "''"
    value_params: list[object] = [key_path(key)] if key else []
    # Counting per (bucket, value) first leaves a few thousand rows to rank, however many
    # events matched; the top values are then picked from those counts, not from a
    # second scan.
    rows = insight_fetchall(
        sql=f"""
        WITH counted AS (
            SELECT date_trunc('{granularity.value}', "timestamp", 'UTC') AS bucket,
                   {value} AS value, count(*) AS events
            FROM ({sql}) matched
            GROUP BY 1, 2
        ),
        top AS (
            SELECT value FROM counted WHERE value IS NOT NULL
            GROUP BY value ORDER BY sum(events) DESC, value LIMIT %s
        )
        SELECT bucket, top.value, sum(events)::bigint
        FROM counted LEFT JOIN top ON top.value = counted.value
        GROUP BY 1, 2
        """,
        params=[*value_params, *params, limit],
    )
    buckets = granularity.buckets(start=start, end=end_exclusive)
    position = {bucket: i for i, bucket in enumerate(buckets)}
    values: dict[str, list[int]] = {}
    other = [0] * len(buckets)
    for bucket, name, count in rows:
        counts = other if name is None else values.setdefault(name, [0] * len(buckets))
        counts[position[bucket]] += count
    series = sorted(
        (
            BreakdownSeries(value=name if key else None, counts=counts)
            for name, counts in values.items()
        ),
        key=lambda s: (-s.total, s.value or ""),
    )
    return Breakdown(granularity=granularity, buckets=buckets, series=series, other=other)
