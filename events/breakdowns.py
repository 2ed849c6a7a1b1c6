"""Breakdowns: events per bucket for the most frequent values of a data key, the rest
summed as "other".

The events are those of events.selectors.event_list with the filters given, so that a
breakdown counts exactly what Explore lists for the same filters; the counting is one
statement, grouped in the database. It reads kept counts when the filters are only
application, category and name and the buckets hours or longer: without a key, the event
rollups; by a key that is tracked (events/tracked_keys.py) and backfilled, its hourly
value counts (both in events/rollups.py). Only the partial hours or minutes at the
range's edges then come from the raw events. Otherwise it reads the raw events. Both ways
give the same answer.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.insight_sql import SlotPool, insight_fetchall, insight_slot
from events.rollups import Granularity, event_counts_counted_sql, value_counts_counted_sql
from events.selectors import event_list
from events.tracked_keys import tracked_key_is_ready

TOP_VALUES = 10
# The filters that the value counts keep apart; any other filter reads raw events.
COUNTED_FILTERS = ("application_id", "category", "name")


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
    # Whether the key's hourly value counts answered it, rather than a scan of raw events:
    # how it was computed, not what it says, so two breakdowns that agree compare equal.
    from_tracked_counts: bool = field(default=False, compare=False)

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
    slots: SlotPool | None = None,
    **filters: Any,
) -> Breakdown:
    """Counts per bucket of [start, end_exclusive) (aligned on `granularity`) for the
    `limit` most frequent values of `key`. `filters` are those of event_list. Without a key,
    one series of every matching event. A value is the key's JSON value as text (a string
    as itself, `49.0`, `true`), and events without the key count in `other`.

    With `slots` (a web request's pool), a read of the raw events holds one of its slots,
    or raises InsightsBusy at once: a tracked key's read too, when its counts turn out to
    hold a value too long to count, which may_use_kept_counts cannot know before."""
    rows = None
    if may_use_kept_counts(key=key, granularity=granularity, **filters):
        counted = {
            "start": start,
            "end": end_exclusive,
            "granularity": granularity,
            **{name: filters.get(name) for name in COUNTED_FILTERS},
        }
        rows = _ranked_rows(
            *(
                value_counts_counted_sql(key=key, **counted)
                if key is not None
                else event_counts_counted_sql(**counted)
            ),
            limit=limit,
        )
        if any(inexact for *_, inexact in rows):
            rows = None
    from_tracked_counts = key is not None and rows is not None
    if rows is None:
        with insight_slot(slots):
            rows = _ranked_rows(
                *_raw_counted_sql(
                    key=key,
                    start=start,
                    end_exclusive=end_exclusive,
                    granularity=granularity,
                    filters=filters,
                ),
                limit=limit,
            )
    buckets = granularity.buckets(start=start, end=end_exclusive)
    position = {bucket: i for i, bucket in enumerate(buckets)}
    values: dict[str, list[int]] = {}
    other = [0] * len(buckets)
    for bucket, name, count, _ in rows:
        counts = other if name is None else values.setdefault(name, [0] * len(buckets))
        counts[position[bucket]] += count
    series = sorted(
        (
            BreakdownSeries(value=name if key else None, counts=counts)
            for name, counts in values.items()
        ),
        key=lambda s: (-s.total, s.value or ""),
    )
    return Breakdown(
        granularity=granularity,
        buckets=buckets,
        series=series,
        other=other,
        from_tracked_counts=from_tracked_counts,
    )


def may_use_kept_counts(*, key: str | None, granularity: Granularity, **filters: Any) -> bool:
    """Whether a breakdown can be read from kept counts rather than the raw events: without
    a key from the event rollups, by a key from its value counts when it is tracked and
    ready; either way the counts (kept per hour, per application, category and name) must
    answer these filters at this granularity. A tracked key's may still read raw events,
    for a range whose counts hold a value too long to count on its own."""
    if granularity is Granularity.MINUTE:
        return False
    if any(value is not None for name, value in filters.items() if name not in COUNTED_FILTERS):
        return False
    return key is None or tracked_key_is_ready(key=key)


def _raw_counted_sql(
    *,
    key: str | None,
    start: datetime,
    end_exclusive: datetime,
    granularity: Granularity,
    filters: dict[str, Any],
) -> tuple[str, list[object]]:
    """RANKED's counted rows from the raw events that event_list matches."""
    events = event_list(start=start, end_exclusive=end_exclusive, **filters).order_by()
    sql, params = events.values_list("timestamp", "data").query.sql_with_params()
    value = "data #>> %s" if key else "''"
    value_params: list[object] = [key_path(key)] if key else []
    counted = f"""
        SELECT {granularity.truncate_sql('"timestamp"')}, {value}, count(*), false
        FROM ({sql}) matched
        GROUP BY 1, 2"""
    return counted, [*value_params, *params]


def _ranked_rows(counted: str, params: list[object], *, limit: int) -> list[tuple]:
    """(bucket, value, events, inexact) rows from `counted`'s, which may hold several per
    bucket and value: the `limit` values with most events (ties by value), every other
    value and the events without the key (value NULL) as other. Counting per (bucket,
    value) first leaves a few thousand rows to rank, however many events matched; the
    top values are then picked from those counts, not from a second scan."""
    return insight_fetchall(
        sql=f"""
        WITH counted (bucket, value, events, inexact) AS ({counted}),
        top AS (
            SELECT value FROM counted WHERE value IS NOT NULL
            GROUP BY value HAVING sum(events) > 0
            ORDER BY sum(events) DESC, value LIMIT {int(limit)}
        )
        SELECT bucket, top.value, sum(events)::bigint, bool_or(inexact)
        FROM counted LEFT JOIN top ON top.value = counted.value
        GROUP BY 1, 2
        """,
        params=params,
    )
