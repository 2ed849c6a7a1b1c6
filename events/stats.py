"""Reads for charts and counts. They come from the rollup tables (events/migrations/0003),
which the storing statement keeps exactly in step with the raw events, so that a chart over
30 days reads thousands of rows instead of millions.

A rollup can only answer for whole buckets, so the callers ask for ranges aligned on
them; `Granularity` is the one helper that picks a bucket size for a span, aligns a range
on it and lists the buckets in it, so that missing buckets are zero-filled, not skipped.
"""

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from django.db import OperationalError, connections, transaction
from django.db.models.fields.json import KeyTextTransform
from psycopg.errors import QueryCanceled

from events.models import Refusal
from events.selectors import event_list
from eye.replica import read_alias

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)


class Granularity(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @classmethod
    def for_span(cls, span: timedelta) -> "Granularity":
        """The bucket size that gives a readable number of bars: 60 to 360 minutes, 6 hours
        to 8 days of hours (a week's daily rhythm shows), then days, then weeks."""
        if span <= 6 * HOUR:
            return cls.MINUTE
        if span <= 8 * DAY:
            return cls.HOUR
        if span <= 120 * DAY:
            return cls.DAY
        return cls.WEEK

    @property
    def step(self) -> timedelta:
        return {"minute": MINUTE, "hour": HOUR, "day": DAY, "week": WEEK}[self.value]

    def floor(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC)
        if self is Granularity.MINUTE:
            return moment.replace(second=0, microsecond=0)
        if self is Granularity.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        if self is Granularity.DAY:
            return day
        # ISO weeks start on Monday, as PostgreSQL's date_trunc('week', ...) does.
        return day - timedelta(days=day.weekday())

    def ceil(self, moment: datetime) -> datetime:
        floor = self.floor(moment)
        return floor if floor == moment else floor + self.step

    def buckets(self, *, start: datetime, end: datetime) -> list[datetime]:
        """The starts of every bucket in [start, end), which must be aligned."""
        starts = []
        at = self.floor(start)
        while at < end:
            starts.append(at)
            at += self.step
        return starts

    @property
    def source(self) -> str:
        """The rollup to read: minute rows for spans short enough to chart by the minute,
        hour rows otherwise (a 30-day range reads 720 hours per series, not 43,200 minutes)."""
        return "event_counts_minute" if self is Granularity.MINUTE else "event_counts_hour"

    @property
    def bucket_sql(self) -> str:
        """Days and weeks are summed from hour rows in SQL, in UTC whatever the server's zone."""
        if self in (Granularity.MINUTE, Granularity.HOUR):
            return "bucket"
        return f"date_trunc('{self.value}', bucket, 'UTC')"


def is_aligned(moment: datetime, step: timedelta) -> bool:
    granularity = Granularity.MINUTE if step == MINUTE else Granularity.HOUR
    return granularity.floor(moment) == moment


@dataclass(frozen=True)
class Series:
    """Counts per bucket and key (category or name), zero-filled: every key has a value
    for every bucket, in bucket order."""

    buckets: list[datetime]
    values: dict[str, list[int]]

    def totals(self) -> list[int]:
        return [sum(column) for column in zip(*self.values.values(), strict=True)] or [
            0 for _ in self.buckets
        ]

    def total(self) -> int:
        return sum(sum(row) for row in self.values.values())

    def key_totals(self) -> dict[str, int]:
        return {key: sum(row) for key, row in self.values.items()}

    def between(self, start: datetime, end: datetime) -> "Series":
        keep = [i for i, bucket in enumerate(self.buckets) if start <= bucket < end]
        return Series(
            buckets=[self.buckets[i] for i in keep],
            values={key: [row[i] for i in keep] for key, row in self.values.items()},
        )

    def top(self, count: int, *, other: str = "(others)") -> "Series":
        """The `count` largest keys, the rest summed as `other`, so that a stacked chart
        of a category with hundreds of names stays readable."""
        ranked = sorted(self.values, key=lambda key: (-sum(self.values[key]), key))
        if len(ranked) <= count + 1:
            return Series(buckets=self.buckets, values={k: self.values[k] for k in ranked})
        kept = {key: self.values[key] for key in ranked[:count]}
        rest = [self.values[key] for key in ranked[count:]]
        kept[other] = [sum(column) for column in zip(*rest, strict=True)]
        return Series(buckets=self.buckets, values=kept)


RollupKey = Literal["category", "name"]


def _rollup_filters(
    *,
    application_id: int | None,
    category: str | None,
    name: str | None,
) -> tuple[str, list[object]]:
    clauses, params = [], []
    for column, value in (
        ("application_id", application_id),
        ("category", category),
        ("name", name),
    ):
        if value is not None:
            clauses.append(f"AND {column} = %s")
            params.append(value)
    return " ".join(clauses), params


def _fetchall(sql: str, params: list[object]) -> list[tuple]:
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def event_counts_series(
    *,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    group_by: RollupKey,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
) -> Series:
    """Events per bucket of [start, end) (aligned on `granularity`), per category or name."""
    where, params = _rollup_filters(application_id=application_id, category=category, name=name)
    rows = _fetchall(
        f"""
        SELECT {granularity.bucket_sql} AS b, {group_by}, sum(events)::bigint
        FROM {granularity.source}
        WHERE bucket >= %s AND bucket < %s {where}
        GROUP BY 1, 2
        """,
        [start, end, *params],
    )
    buckets = granularity.buckets(start=start, end=end)
    position = {bucket: i for i, bucket in enumerate(buckets)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for bucket, key, events in rows:
        values[key][position[bucket]] += events
    return Series(buckets=buckets, values=dict(sorted(values.items())))


@dataclass(frozen=True)
class TopRow:
    category: str
    name: str | None
    events: int
    previous: int


def event_counts_top(
    *,
    start: datetime,
    end: datetime,
    previous_start: datetime,
    by: RollupKey,
    granularity: Granularity,
    application_id: int | None = None,
    category: str | None = None,
    limit: int = 10,
) -> list[TopRow]:
    """The categories (or category/name pairs) with most events in [start, end), with their
    counts in [previous_start, start) to compare against. Ranges are aligned as for
    event_counts_series; one scan serves both periods."""
    where, params = _rollup_filters(application_id=application_id, category=category, name=None)
    keys = "category, NULL::text" if by == "category" else "category, name"
    rows = _fetchall(
        f"""
        SELECT {keys},
               coalesce(sum(events) FILTER (WHERE bucket >= %s), 0)::bigint AS current,
               coalesce(sum(events) FILTER (WHERE bucket < %s), 0)::bigint AS previous
        FROM {granularity.source}
        WHERE bucket >= %s AND bucket < %s {where}
        GROUP BY 1, 2
        ORDER BY current DESC, previous DESC, 1, 2
        LIMIT %s
        """,
        [start, start, previous_start, end, *params, limit],
    )
    return [TopRow(*row) for row in rows]


def event_counts_total(
    *,
    start: datetime | None,
    end: datetime | None,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
) -> int | None:
    """Events in [start, end) summed from a rollup, or None when the range does not fall on
    minute boundaries (a rollup cannot split a minute). Open ends read every bucket."""
    bounds = [moment for moment in (start, end) if moment is not None]
    if all(is_aligned(moment, HOUR) for moment in bounds):
        source = "event_counts_hour"
    elif all(is_aligned(moment, MINUTE) for moment in bounds):
        source = "event_counts_minute"
    else:
        return None
    where, params = _rollup_filters(application_id=application_id, category=category, name=name)
    if start is not None:
        where += " AND bucket >= %s"
        params.append(start)
    if end is not None:
        where += " AND bucket < %s"
        params.append(end)
    [(total,)] = _fetchall(
        f"SELECT coalesce(sum(events), 0)::bigint FROM {source} WHERE true {where}", params
    )
    return total


def session_count(*, start: datetime, end: datetime, application_id: int | None = None) -> int:
    """Distinct sessions with an event in [start, end).

    Hour-aligned ranges read session_activity_hour (one row per session and hour, through
    an index-only scan of its key); others, such as the last hour to the minute, are short
    enough to count over the raw events, through the timestamp index. count(DISTINCT)
    sorts, which measured faster here than hashing some 400,000 ids of a month, and
    faster than one pass for two periods at once.
    """
    if is_aligned(start, HOUR) and is_aligned(end, HOUR):
        source, column = "session_activity_hour", "bucket"
    else:
        source, column = "events", '"timestamp"'
    app = "AND application_id = %s" if application_id is not None else ""
    [(count,)] = _fetchall(
        f"""
        SELECT count(DISTINCT session_id) FROM {source}
        WHERE {column} >= %s AND {column} < %s {app}
        """,
        [start, end] + ([application_id] if application_id is not None else []),
    )
    return count


@dataclass(frozen=True)
class EventCount:
    """How many events a filter matches: exact, or at least `value` (capped), or unknown
    (None) when even the capped count would have made the page wait."""

    value: int | None
    exact: bool


def event_count(
    *,
    cap: int = 10_000,
    timeout_ms: int = 400,
    application_id: int | None = None,
    session_id: uuid.UUID | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_exclusive: datetime | None = None,
    data_key: str | None = None,
    data_value: str | None = None,
) -> EventCount:
    """The count shown above a filtered list, without ever counting millions of rows.

    Filters the rollups know (application, category, name, a range on minute boundaries)
    are summed from them, exactly. Anything else counts raw events up to `cap`, under a
    statement timeout: a rare data value has to be looked for across the whole range.
    """
    if session_id is None and data_key is None:
        total = event_counts_total(
            start=start,
            end=end_exclusive,
            application_id=application_id,
            category=category,
            name=name,
        )
        if total is not None:
            return EventCount(total, exact=True)
    events = event_list(
        application_id=application_id,
        session_id=session_id,
        category=category,
        name=name,
        start=start,
        end_exclusive=end_exclusive,
        data_key=data_key,
        data_value=data_value,
    )
    limited = events.order_by().values("pk")[: cap + 1]
    sql, params = limited.query.sql_with_params()
    try:
        alias = read_alias()
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")
            cursor.execute(f"SELECT count(*) FROM ({sql}) AS matching", params)
            [(count,)] = cursor.fetchall()
            # SET LOCAL lasts to the end of the outermost transaction, which is not this
            # block when the caller already holds one.
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
    except OperationalError as exc:
        if not isinstance(exc.__cause__, QueryCanceled):
            raise
        return EventCount(None, exact=False)
    return EventCount(min(count, cap), exact=count <= cap)


@dataclass(frozen=True)
class SessionSummary:
    session_id: uuid.UUID
    application_ids: list[int]
    events: int
    first: datetime | None = None
    last: datetime | None = None
    entry: str = ""
    exit: str = ""

    @property
    def duration(self) -> timedelta | None:
        return self.last - self.first if self.first and self.last else None


SessionOrder = Literal["recent", "events"]


def session_list_recent(
    *,
    start: datetime,
    end: datetime,
    application_id: int | None = None,
    order: SessionOrder = "recent",
    limit: int = 50,
    offset: int = 0,
) -> list[SessionSummary]:
    """Sessions active in [start, end) (hour-aligned), most recently active or busiest
    first, from session_activity_hour; then the exact first and last events of just the
    sessions on this page, through the session index."""
    app = "AND application_id = %s" if application_id is not None else ""
    params: list[object] = [start, end] + ([application_id] if application_id is not None else [])
    ordering = (
        "max(bucket) DESC, sum(events) DESC, session_id"
        if order == "recent"
        else "sum(events) DESC, max(bucket) DESC, session_id"
    )
    rows = _fetchall(
        f"""
        SELECT session_id, array_agg(DISTINCT application_id ORDER BY application_id),
               sum(events)::bigint
        FROM session_activity_hour
        WHERE bucket >= %s AND bucket < %s {app}
        GROUP BY session_id
        ORDER BY {ordering}
        LIMIT %s OFFSET %s
        """,
        [*params, limit, offset],
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    ends = {
        session_id: (first, last, entry, exit_)
        for session_id, first, last, entry, exit_ in _fetchall(
            """
            SELECT session_id, min("timestamp"), max("timestamp"),
                   (array_agg(category || ' / ' || name ORDER BY "timestamp", event_id))[1],
                   (array_agg(category || ' / ' || name
                              ORDER BY "timestamp" DESC, event_id DESC))[1]
            FROM events WHERE session_id = ANY(%s) GROUP BY session_id
            """,
            [ids],
        )
    }
    summaries = []
    for session_id, application_ids, events in rows:
        first, last, entry, exit_ = ends.get(session_id, (None, None, "", ""))
        summaries.append(
            SessionSummary(session_id, application_ids, events, first, last, entry, exit_)
        )
    return summaries


def refusal_count(*, start: datetime, end: datetime, application_id: int | None = None) -> int:
    refusals = Refusal.objects.filter(created_at__gte=start, created_at__lt=end)
    if application_id is not None:
        refusals = refusals.filter(application_id=application_id)
    return refusals.count()


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    refusals: int


def refusal_reason_counts(
    *, start: datetime, end: datetime, application_id: int | None = None, limit: int = 20
) -> list[ReasonCount]:
    """Refused requests per reason (field and message, as events.models.error_reason
    spells it). A request with several errors counts once under each of its reasons."""
    app = "AND r.application_id = %s" if application_id is not None else ""
    params: list[object] = [start, end] + ([application_id] if application_id is not None else [])
    table = Refusal._meta.db_table
    rows = _fetchall(
        f"""
        SELECT reason, count(DISTINCT id) FROM (
            SELECT r.id,
                   CASE WHEN coalesce(e->>'field', '') <> ''
                        THEN (e->>'field') || ': ' || (e->>'message')
                        ELSE e->>'message' END AS reason
            FROM {table} AS r, jsonb_array_elements(r.errors) AS e
            WHERE r.created_at >= %s AND r.created_at < %s {app}
        ) AS reasons
        GROUP BY reason ORDER BY 2 DESC, 1 LIMIT %s
        """,
        [*params, limit],
    )
    return [ReasonCount(reason, count) for reason, count in rows]


@dataclass(frozen=True)
class ValueCounts:
    """The most frequent values of one data key; `sampled` events were read, and `capped`
    says they were the newest of more."""

    rows: list[tuple[str | None, int]]
    sampled: int
    capped: bool


def data_value_counts(
    *,
    key: str,
    start: datetime | None,
    end: datetime | None,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
    sample: int = 50_000,
    limit: int = 20,
) -> ValueCounts:
    """Values of `data[key]` over the newest `sample` matching events.

    No rollup knows payload values, so this reads raw events; the sample bounds the work
    (the newest rows come straight off the (category, name, timestamp) index) and the
    page says when it applied. A missing key counts as None.
    """
    newest = (
        event_list(
            application_id=application_id,
            category=category,
            name=name,
            start=start,
            end_exclusive=end,
        )
        .annotate(value=KeyTextTransform(key, "data"))
        .values("value")[:sample]
    )
    sql, params = newest.query.sql_with_params()
    rows = _fetchall(
        f"""
        WITH newest AS ({sql})
        SELECT value, count(*), (SELECT count(*) FROM newest) FROM newest
        GROUP BY value ORDER BY 2 DESC, 1 NULLS LAST LIMIT %s
        """,
        [*params, limit],
    )
    read = rows[0][2] if rows else 0
    # A full sample may have stopped short of older matching events: say so on the page.
    return ValueCounts(
        rows=[(value, count) for value, count, _ in rows], sampled=read, capped=read >= sample
    )


def data_key_list(
    *,
    start: datetime | None,
    end: datetime | None,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
    sample: int = 1_000,
) -> list[str]:
    """The top-level data keys seen in the newest `sample` matching events, most common
    first, to offer as choices."""
    newest = event_list(
        application_id=application_id,
        category=category,
        name=name,
        start=start,
        end_exclusive=end,
    ).values("data")[:sample]
    sql, params = newest.query.sql_with_params()
    rows = _fetchall(
        f"""
        SELECT key FROM ({sql}) AS newest, jsonb_object_keys(
            CASE WHEN jsonb_typeof(newest.data) = 'object' THEN newest.data ELSE '{{}}' END
        ) AS key
        GROUP BY key ORDER BY count(*) DESC, key LIMIT 50
        """,
        params,
    )
    return [key for (key,) in rows]


def category_name_list(
    *, since: datetime | None = None, limit: int = 5_000
) -> list[tuple[str, str]]:
    """The (category, name) pairs seen (since `since`), from the hour rollup: the choices
    to suggest in filters, and the set of categories that colours are assigned over."""
    where = "WHERE bucket >= %s" if since is not None else ""
    params: list[object] = [since] if since is not None else []
    rows = _fetchall(
        f"SELECT DISTINCT category, name FROM event_counts_hour {where} ORDER BY 1, 2 LIMIT %s",
        [*params, limit],
    )
    return [(category, name) for category, name in rows]
