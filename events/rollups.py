"""The rollups: every count kept beside the raw events, and everything that reads or keeps them.

Small tables (events/migrations/0003 and 0013) hold exact counts, kept in the same
statement that stores (or removes) events, so that a chart over 30 days reads thousands of
rows instead of millions and a count never scans the raw table:

- event_counts_minute / event_counts_hour: events per bucket, application, category, name;
- session_activity_hour: events per hour, application and session;
- event_value_counts_hour: events per hour, application, category, name, tracked data key
  (events.models.TrackedKey) and value, for breakdowns by the keys staff chose to track.

This module owns them: the upserts of ingest and removal, the clean-up of emptied buckets,
the rebuilds from the raw rows, the range arithmetic (`Granularity`, and the split of any
range into whole hours, whole minutes and the partial minutes at its ends), and every
function that counts events from them. A change to how they are kept is an edit here.

A rollup can only answer for whole buckets, so the callers ask for ranges aligned on
them; `Granularity` is the one helper that picks a bucket size for a span, aligns a range
on it and lists the buckets in it, so that missing buckets are zero-filled, not skipped.
"""

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal

from django.db import connection, connections, transaction

from eye.replica import read_alias

TABLES = (
    "event_counts_minute",
    "event_counts_hour",
    "session_activity_hour",
    "event_value_counts_hour",
)
VALUE_COUNTS = "event_value_counts_hour"
# The table of events.models.TrackedKey. The statements below read the tracked keys from
# it themselves rather than take them as a parameter: a statement's snapshot is taken
# after it has locked the tables it writes, which is what value_counts_lock relies on.
TRACKED_KEYS = "events_trackedkey"
# A value is counted under its own row only when it, the category and the name together
# fit in this many bytes: a btree entry holds at most 2,704, and the key, the bucket and
# the application take the rest. Longer values are counted together in one `too_long`
# row per hour and kind, and a breakdown over a range that has one reads raw events.
MAX_VALUE_ROW_BYTES = 2000

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)


# Buckets are cut with date_bin from this origin: for minutes, hours, days and weeks it
# gives what date_trunc(..., 'UTC') gives (1900-01-01 was a Monday, so weeks start on
# Mondays as ISO weeks do; the two agree on random instants of every year from 1 to
# 9999), without converting every row's time into a zone first. Over the 5M pageviews of
# a month at 10M events, grouping by day took 3.6 to 4.6 s with it against 4.5 to 6.6 s
# with date_trunc.
BUCKET_ORIGIN = "TIMESTAMPTZ '1900-01-01 00:00+00'"


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
        if floor == moment:
            return floor
        try:
            return floor + self.step
        except OverflowError:
            # In the last bucket Python can hold (a filter of late 9999): no whole bucket
            # follows, which the last instant of all says as well as the next bucket would.
            return datetime.max.replace(tzinfo=UTC)

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

    def truncate_sql(self, column: str) -> str:
        """SQL for the start of the bucket that `column` (a timestamptz) falls in, in UTC
        whatever the server's zone: what floor() gives in Python."""
        return f"date_bin('{self.step_sql}', {column}, {BUCKET_ORIGIN})"

    @property
    def step_sql(self) -> str:
        return {"minute": "1 minute", "hour": "1 hour", "day": "1 day", "week": "7 days"}[
            self.value
        ]

    @property
    def bucket_sql(self) -> str:
        """Days and weeks are summed from hour rows in SQL."""
        if self in (Granularity.MINUTE, Granularity.HOUR):
            return "bucket"
        return self.truncate_sql("bucket")


# The rollups' buckets of an event's time.
MINUTE_OF_EVENT = Granularity.MINUTE.truncate_sql('"timestamp"')
HOUR_OF_EVENT = Granularity.HOUR.truncate_sql('"timestamp"')


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


# --- Counting events: whole hours, whole minutes, and the raw edges ------------------

MICROSECOND = timedelta(microseconds=1)

# One piece of a range: the table that answers for it ("events" for the partial minutes
# at the ends) and its bounds, either open (None).
Part = tuple[str, datetime | None, datetime | None]


def _whole_minutes(start: datetime | None, end: datetime | None) -> list[Part]:
    """[start, end), both on minute boundaries or open: hours from the hour rollup, the
    minutes around them from the minute rollup."""
    first_hour = Granularity.HOUR.ceil(start) if start is not None else None
    last_hour = Granularity.HOUR.floor(end) if end is not None else None
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return [("event_counts_minute", start, end)]
    parts: list[Part] = [("event_counts_hour", first_hour, last_hour)]
    if start is not None and start != first_hour:
        parts.append(("event_counts_minute", start, first_hour))
    if end is not None and end != last_hour:
        parts.append(("event_counts_minute", last_hour, end))
    return parts


def range_parts(*, start: datetime | None, end: datetime | None) -> list[Part]:
    """[start, end) (either end open) split into the pieces that answer for it exactly:
    whole hours from the hour rollup, whole minutes at its edges from the minute rollup,
    and the partial minutes at its very ends from the events themselves (at most two
    minutes of rows)."""
    first_minute = Granularity.MINUTE.ceil(start) if start is not None else None
    last_minute = Granularity.MINUTE.floor(end) if end is not None else None
    if first_minute is not None and last_minute is not None and first_minute >= last_minute:
        return [("events", start, end)]
    parts: list[Part] = []
    if start is not None and start != first_minute:
        parts.append(("events", start, first_minute))
    if end is not None and end != last_minute:
        parts.append(("events", last_minute, end))
    return parts + _whole_minutes(first_minute, last_minute)


def _parts_sum(parts: Sequence[Part], *, where: str = "true", params: dict | None = None) -> int:
    """The events of every part, summed in one statement. `where` is SQL over the columns
    the events table and the event rollups share (application_id, category, name), with
    %(name)s parameters."""
    return _number(_parts_sum_statement(parts, where=where, params=params))


def _number(statement: tuple[str, dict | Sequence[object]]) -> int:
    """The one number a statement gives."""
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(*statement)
        return int(cursor.fetchone()[0])


def _part_columns(table: str) -> tuple[str, str]:
    """A part's time column and how its rows count events: one each, or their `events`."""
    return ('"timestamp"', "count(*)") if table == "events" else ("bucket", "sum(events)")


def _parts_sum_statement(
    parts: Sequence[Part], *, where: str = "true", params: dict | None = None
) -> tuple[str, dict]:
    selects, values = [], dict(params or {})
    for number, (table, start, end) in enumerate(parts):
        column, measure = _part_columns(table)
        clauses = [f"({where})"]
        for bound, moment, operator in (("start", start, ">="), ("end", end, "<")):
            if moment is not None:
                clauses.append(f"{column} {operator} %(part{number}_{bound})s")
                values[f"part{number}_{bound}"] = moment
        selects.append(
            f"(SELECT coalesce({measure}, 0) FROM {table} WHERE {' AND '.join(clauses)})"
        )
    # One statement, one snapshot: the parts cannot disagree about a row stored between
    # them.
    return f"SELECT ({' + '.join(selects)})::bigint", values


def _filters_where(**filters: object) -> tuple[str, dict]:
    given = {column: value for column, value in filters.items() if value is not None}
    where = " AND ".join(f"{column} = %({column})s" for column in given) or "true"
    return where, given


def event_counts_total(
    *,
    start: datetime | None,
    end: datetime | None,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
) -> int | None:
    """Events in [start, end) summed from the rollups, or None when the range does not
    fall on minute boundaries (a rollup cannot split a minute). Open ends read every
    bucket."""
    if not all(is_aligned(moment, MINUTE) for moment in (start, end) if moment is not None):
        return None
    where, params = _filters_where(application_id=application_id, category=category, name=name)
    return _parts_sum(_whole_minutes(start, end), where=where, params=params)


def event_total(
    *,
    application_id: int | None,
    session_id: uuid.UUID | str | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_inclusive: datetime | None = None,
    end_exclusive: datetime | None = None,
) -> int:
    """The exact number of events a filter of the query API matches, without counting
    millions of rows: `count(*)` would take seconds, and every GET answers with a count."""
    return _number(
        event_total_statement(
            application_id=application_id,
            session_id=session_id,
            category=category,
            name=name,
            start=start,
            end_inclusive=end_inclusive,
            end_exclusive=end_exclusive,
        )
    )


def event_total_statement(
    *,
    application_id: int | None,
    session_id: uuid.UUID | str | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_inclusive: datetime | None = None,
    end_exclusive: datetime | None = None,
) -> tuple[str, dict | Sequence[object]]:
    """event_total's statement (SQL and parameters) that gives one row and column, for a
    caller that sends it together with others. A session's events are few and sit
    together in their own index, so a session filter counts them directly."""
    if session_id is not None:
        from events.selectors import event_list  # the selectors read the models

        events = event_list(
            application_id=application_id,
            session_id=session_id,
            category=category,
            name=name,
            start=start,
            end_inclusive=end_inclusive,
            end_exclusive=end_exclusive,
        )
        sql, params = events.order_by().values("pk").query.sql_with_params()
        return f"SELECT count(*) FROM ({sql}) AS matching", params
    end = _exclusive(end_inclusive) if end_inclusive is not None else end_exclusive
    if start is not None and end is not None and start >= end:
        return "SELECT 0", []
    where, params = _filters_where(application_id=application_id, category=category, name=name)
    return _parts_sum_statement(range_parts(start=start, end=end), where=where, params=params)


def _exclusive(end_inclusive: datetime) -> datetime | None:
    """Timestamps are stored to the microsecond, so "at or before e" is "before e + 1 µs";
    at or before the last instant Python can hold is no bound at all."""
    try:
        return end_inclusive + MICROSECOND
    except OverflowError:
        return None


def event_total_before(*, cutoff: datetime, where: str, params: dict) -> int:
    """Events older than `cutoff` that match `where` (SQL over application_id, category
    and name, with %(name)s parameters): what a retention rule would remove."""
    return _parts_sum(range_parts(start=None, end=cutoff), where=where, params=params)


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


# --- Keeping them: the upserts of ingest and removal ---------------------------------

# The batch statements of ingest and removal, which keep the rollups as they store or
# remove events, run with JIT compilation off for their transaction (SET LOCAL). The
# planner cannot see how few rows they touch: the staging table is a temporary table that
# is never analysed, which it takes for at least ten pages, and the cross join with the
# tracked keys multiplies that by the rows it guesses for a small table, so a batch of
# 5,000 rows is priced as millions and compiled with LLVM: about 0.45 s of CPU for a
# statement that runs in 0.1 s, at every batch (`python -m bench.store` stored 7,898
# rows/s live with JIT and 27,766 without).
WITHOUT_JIT = "SET LOCAL jit = off"


def _value_counts(*, rows: str, where: str = "true", sign: str = "") -> str:
    """A SELECT of the rows of event_value_counts_hour that the events of `rows` (a table
    or CTE with the events' columns, data included) make for every tracked key, `sign`
    applied to the counts, in key order. `where` is SQL over `rows` (r) and the tracked
    keys (t). A value is the key's JSON value as text (`data #>> path`), as breakdowns
    read it; events without the key make no row. With no key tracked the cross join is
    empty, so ingest pays next to nothing for it."""
    return f"""
    SELECT bucket, application_id, category, name, key, too_long,
           CASE WHEN too_long THEN '' ELSE value END, {sign}count(*)
    FROM (
        SELECT {Granularity.HOUR.truncate_sql('r."timestamp"')} AS bucket, r.application_id,
               r.category, r.name, t.key, r.data #>> string_to_array(t.key, '.') AS value
        FROM {TRACKED_KEYS} AS t CROSS JOIN {rows} AS r
        WHERE {where}
    ) AS valued
    CROSS JOIN LATERAL (
        SELECT octet_length(category) + octet_length(name) + octet_length(value)
               > {MAX_VALUE_ROW_BYTES} AS too_long
    ) AS sized
    WHERE value IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7"""


VALUE_COUNTS_COLUMNS = "bucket, application_id, category, name, key, too_long, value"


def rollup_upserts(*, rows: str, sign: str) -> str:
    """CTEs that add (sign "") or take away (sign "-") the rows of the CTE `rows` (with
    the events' data) from the rollups. Ingest and removal share them, so both lock a
    bucket's rows in the same key order and cannot deadlock, and they can never count a
    row differently. Every tracked key costs at most one value row per event that has it."""
    return f"""
minute_counts AS (
    INSERT INTO event_counts_minute AS c (bucket, application_id, category, name, events)
    SELECT {MINUTE_OF_EVENT}, application_id, category, name,
           {sign}count(*)
    FROM {rows} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (bucket, application_id, category, name)
    DO UPDATE SET events = c.events + excluded.events
),
hour_counts AS (
    INSERT INTO event_counts_hour AS c (bucket, application_id, category, name, events)
    SELECT {HOUR_OF_EVENT}, application_id, category, name,
           {sign}count(*)
    FROM {rows} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (bucket, application_id, category, name)
    DO UPDATE SET events = c.events + excluded.events
),
session_hours AS (
    INSERT INTO session_activity_hour AS s (bucket, application_id, session_id, events)
    SELECT {HOUR_OF_EVENT}, application_id, session_id, {sign}count(*)
    FROM {rows} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (bucket, application_id, session_id)
    DO UPDATE SET events = s.events + excluded.events
),
value_counts AS (
    INSERT INTO {VALUE_COUNTS} AS v ({VALUE_COUNTS_COLUMNS}, events)
    {_value_counts(rows=rows, sign=sign)}
    ON CONFLICT ({VALUE_COUNTS_COLUMNS})
    DO UPDATE SET events = v.events + excluded.events
)"""


# The buckets a removal touched, to pass to rollups_empty_delete: two columns to select
# from the removed rows (the CTE of rollup_upserts' `rows`). The braces are doubled for
# the str.format that the removal statement goes through.
TOUCHED_BUCKETS = f"""
       coalesce(array_agg(DISTINCT {MINUTE_OF_EVENT}), '{{{{}}}}'),
       coalesce(array_agg(DISTINCT {HOUR_OF_EVENT}), '{{{{}}}}')"""

# A bucket whose events are all gone must go too: the session list counts a session as
# active in an hour when it has a row there.
DELETE_EMPTY_BUCKETS = (
    "DELETE FROM event_counts_minute WHERE bucket = ANY(%(minutes)s) AND events <= 0",
    "DELETE FROM event_counts_hour WHERE bucket = ANY(%(hours)s) AND events <= 0",
    "DELETE FROM session_activity_hour WHERE bucket = ANY(%(hours)s) AND events <= 0",
    f"DELETE FROM {VALUE_COUNTS} WHERE bucket = ANY(%(hours)s) AND events <= 0",
)


def rollups_empty_delete(*, minutes: list[datetime], hours: list[datetime]) -> None:
    """Delete the rows of these buckets that a removal brought down to zero."""
    with connection.cursor() as cursor:
        for statement in DELETE_EMPTY_BUCKETS:
            cursor.execute(statement, {"minutes": minutes, "hours": hours})


# --- Rebuilding them from the raw rows -----------------------------------------------

# The very counts rollup_upserts keeps one batch at a time, from every raw row matching
# {where} (SQL over the events table). The first three read the raw rows and may run at
# once, on three connections; the hour rollup is then summed from the minute one (a few
# hundred thousand rows) rather than from the raw table again.
REBUILD_FROM_RAW = (
    f"""
    INSERT INTO event_counts_minute (bucket, application_id, category, name, events)
    SELECT {MINUTE_OF_EVENT}, application_id, category, name, count(*)
    FROM events WHERE {{where}} GROUP BY 1, 2, 3, 4
    """,
    f"""
    INSERT INTO session_activity_hour (bucket, application_id, session_id, events)
    SELECT {HOUR_OF_EVENT}, application_id, session_id, count(*)
    FROM events WHERE {{where}} GROUP BY 1, 2, 3
    """,
    f"INSERT INTO {VALUE_COUNTS} ({VALUE_COUNTS_COLUMNS}, events)"
    + _value_counts(rows="events", where="{where}"),
)
REBUILD_HOUR_FROM_MINUTE = f"""
INSERT INTO event_counts_hour (bucket, application_id, category, name, events)
SELECT {Granularity.HOUR.truncate_sql("bucket")}, application_id, category, name, sum(events)
FROM event_counts_minute WHERE {{where}} GROUP BY 1, 2, 3, 4
"""
TRUNCATE = f"TRUNCATE {', '.join(TABLES)}"


def rollups_rebuild_sql(*, bounded: bool) -> list[str]:
    """The statements that count events again from the raw rows, in order: delete, the
    three raw reads, the hour rollup from the minute one. Bounded, they cover the hour-aligned
    [%(start)s, %(end)s); otherwise everything."""

    def within(column: str) -> str:
        return f"{column} >= %(start)s AND {column} < %(end)s" if bounded else "true"

    deletes = [f"DELETE FROM {table} WHERE {within('bucket')}" for table in TABLES]
    raw = [statement.format(where=within('"timestamp"')) for statement in REBUILD_FROM_RAW]
    return [
        *(deletes if bounded else [TRUNCATE]),
        *raw,
        REBUILD_HOUR_FROM_MINUTE.format(where=within("bucket")),
    ]


def rollups_forget_before(*, boundary: datetime) -> None:
    """Make the rollups agree with a raw table that lost every event before `boundary`
    at once (dropped chunks): buckets wholly before it go; the hour that straddles it, if
    any, is counted again from the raw events."""
    hour = Granularity.HOUR.floor(boundary)
    with transaction.atomic(), connection.cursor() as cursor:
        # Writers add to the straddling hour while it is recounted; hold them off for the
        # moment it takes (an hour of events at most).
        cursor.execute(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE")
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE bucket < %s", [hour])
        if hour != boundary:
            for statement in rollups_rebuild_sql(bounded=True):
                cursor.execute(statement, {"start": hour, "end": hour + HOUR})


# --- The value counts of a tracked key: its backfill, its removal ---------------------
#
# Ingest counts a key's values from the moment its row is committed: a storing statement
# whose snapshot sees the row counts them. Events stored before are counted by the
# backfill, one day at a time, each day counted again from the raw events under
# value_counts_lock. The lock conflicts with the ROW EXCLUSIVE lock every storing or
# removing statement holds on the value counts until it commits, so a day is recounted
# with no write in flight: a statement that did not see the key (its snapshot predates
# the key) locked the table before the key existed, and has committed by then; a write
# that comes after sees the key and adds to the recounted rows. Replacing a day's rows
# rather than adding to them is what makes that exact whatever ingest counted already,
# and makes a backfill that was interrupted safe to run again.


def value_counts_lock() -> None:
    """Hold off every write to the value counts until the current transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {VALUE_COUNTS} IN SHARE ROW EXCLUSIVE MODE")


def value_counts_span() -> tuple[datetime, datetime] | None:
    """The days [first, end) that hold every stored event, or None when there are none.
    Read under value_counts_lock, so that every event that a backfill has to count
    (stored before its key) is among them."""
    with transaction.atomic(), connection.cursor() as cursor:
        value_counts_lock()
        cursor.execute('SELECT min("timestamp"), max("timestamp") FROM events')
        first, last = cursor.fetchone()
    if first is None:
        return None
    return Granularity.DAY.floor(first), Granularity.DAY.floor(last) + DAY


def events_day_from(day: datetime) -> datetime | None:
    """The first day at or after `day` that holds a stored event, or None: a backfill
    walks the days that have events, not the calendar between an event stamped in year 1
    and today (739,000 days). One probe of the timestamp index."""
    with connection.cursor() as cursor:
        cursor.execute('SELECT min("timestamp") FROM events WHERE "timestamp" >= %s', [day])
        (first,) = cursor.fetchone()
    return None if first is None else Granularity.DAY.floor(first)


def value_counts_recount(*, key: str, start: datetime, end: datetime) -> None:
    """Count `key`'s values again from the raw events of the hour-aligned [start, end).
    The caller holds value_counts_lock in the same transaction."""
    params = {"key": key, "start": start, "end": end}
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {VALUE_COUNTS} "
            "WHERE key = %(key)s AND bucket >= %(start)s AND bucket < %(end)s",
            params,
        )
        cursor.execute(
            f"INSERT INTO {VALUE_COUNTS} ({VALUE_COUNTS_COLUMNS}, events)"
            + _value_counts(
                rows="events",
                where='t.key = %(key)s AND r."timestamp" >= %(start)s AND r."timestamp" < %(end)s',
            ),
            params,
        )


def value_counts_forget(*, key: str) -> None:
    """Delete `key`'s value counts. The caller holds value_counts_lock and deletes the
    key's row in the same transaction, so that no write in flight adds rows back."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {VALUE_COUNTS} WHERE key = %s", [key])


# --- Reading them: a breakdown by a tracked key --------------------------------------


def event_counts_counted_sql(
    *,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
) -> tuple[str, list[object]]:
    """value_counts_counted_sql's SELECT for no key: (bucket, '', events, false) per
    `granularity` bucket (hours or longer) of [start, end), from the event rollups for its
    whole hours and minutes and from the raw events for the partial minutes at its ends."""
    assert granularity is not Granularity.MINUTE, "an hour's rows cannot be split by minute"
    where, filter_params = _rollup_filters(
        application_id=application_id, category=category, name=name
    )
    selects: list[str] = []
    params: list[object] = []
    for table, part_start, part_end in range_parts(start=start, end=end):
        column, measure = _part_columns(table)
        selects.append(
            f"""
            SELECT {granularity.truncate_sql(column)}, '', {measure}, false
            FROM {table} WHERE {column} >= %s AND {column} < %s {where}
            GROUP BY 1"""
        )
        params += [part_start, part_end, *filter_params]
    return " UNION ALL ".join(selects), params


def value_counts_counted_sql(
    *,
    key: str,
    start: datetime,
    end: datetime,
    granularity: Granularity,
    application_id: int | None = None,
    category: str | None = None,
    name: str | None = None,
) -> tuple[str, list[object]]:
    """A SELECT of (bucket, value, events, inexact) for the events of [start, end): per
    `granularity` bucket, the events of each value of `key` (value NULL for the events
    without it), from the value counts for the range's whole hours and from the raw
    events at its edges (range_parts' minute parts are raw here: there are no minute
    value counts). `inexact` is true where the counts cannot stand for the raw events:
    the key is not ready in this statement's snapshot (removed since it was looked up,
    say), or a value was too long to keep. Events without the key are an hour's events
    (event_counts_hour) less its counted values: each value row is read twice, as itself
    and as its negative under NULL."""
    where, filter_params = _rollup_filters(
        application_id=application_id, category=category, name=name
    )
    not_ready = f"NOT EXISTS (SELECT FROM {TRACKED_KEYS} WHERE key = %s AND ready_at IS NOT NULL)"
    selects: list[str] = []
    params: list[object] = []
    for table, part_start, part_end in range_parts(start=start, end=end):
        if table == "event_counts_hour":
            selects.append(
                f"""
                SELECT {granularity.bucket_sql}, split.value, sum(split.events),
                       bool_or(too_long) OR {not_ready}
                FROM {VALUE_COUNTS}
                CROSS JOIN LATERAL (
                    VALUES (CASE WHEN too_long THEN NULL ELSE value END, events),
                           (NULL, -events)
                ) AS split (value, events)
                WHERE key = %s AND bucket >= %s AND bucket < %s {where}
                GROUP BY 1, 2
                UNION ALL
                SELECT {granularity.bucket_sql}, NULL, sum(events), {not_ready}
                FROM event_counts_hour WHERE bucket >= %s AND bucket < %s {where}
                GROUP BY 1"""
            )
            params += [key, key, part_start, part_end, *filter_params]
            params += [key, part_start, part_end, *filter_params]
        else:
            selects.append(
                f"""
                SELECT {granularity.truncate_sql('"timestamp"')},
                       data #>> %s, count(*), false
                FROM events WHERE "timestamp" >= %s AND "timestamp" < %s {where}
                GROUP BY 1, 2"""
            )
            params += [key.split("."), part_start, part_end, *filter_params]
    return " UNION ALL ".join(selects), params


# One pass over the raw rows, compared with each rollup summed to the same key: the
# number of keys whose counts differ, for each rollup (0 when they agree).
CHECK = f"""
WITH raw AS (
    SELECT {HOUR_OF_EVENT} AS bucket, application_id, category, name,
           count(*) AS events
    FROM events GROUP BY 1, 2, 3, 4
),
minute AS (
    SELECT {Granularity.HOUR.truncate_sql("bucket")} AS bucket, application_id, category, name,
           sum(events) AS events
    FROM event_counts_minute GROUP BY 1, 2, 3, 4
),
raw_hours AS (SELECT bucket, application_id, sum(events) AS events FROM raw GROUP BY 1, 2),
session_hours AS (
    SELECT bucket, application_id, sum(events) AS events
    FROM session_activity_hour GROUP BY 1, 2
)
SELECT
    (SELECT coalesce(sum(events), 0)::bigint FROM raw),
    (SELECT count(*) FROM raw FULL JOIN minute USING (bucket, application_id, category, name)
     WHERE raw.events IS DISTINCT FROM minute.events),
    (SELECT count(*) FROM raw
     FULL JOIN event_counts_hour AS hour USING (bucket, application_id, category, name)
     WHERE raw.events IS DISTINCT FROM hour.events),
    (SELECT count(*) FROM raw_hours FULL JOIN session_hours USING (bucket, application_id)
     WHERE raw_hours.events IS DISTINCT FROM session_hours.events),
    (SELECT count(*)
     FROM ({_value_counts(rows="events")}) AS raw_values ({VALUE_COUNTS_COLUMNS}, events)
     FULL JOIN {VALUE_COUNTS} AS kept USING ({VALUE_COUNTS_COLUMNS})
     WHERE raw_values.events IS DISTINCT FROM kept.events)
"""
