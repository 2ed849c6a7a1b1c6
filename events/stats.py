"""Reads for charts, lists and counts beyond the rollups' own: the count above a filtered
list, sessions, refusals, payload values. The counts kept beside the events, and
`Granularity`, belong to events.rollups.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db import OperationalError, connections, transaction
from django.db.models import TextField
from django.db.models.expressions import RawSQL
from psycopg.errors import QueryCanceled

from events.insight_sql import SlotPool, insight_fetchall, insight_slot
from events.models import Refusal
from events.rollups import HOUR, event_counts_total
from events.selectors import event_list
from eye.replica import read_alias


def _fetchall(sql: str, params: list[object]) -> list[tuple]:
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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


SessionRow = tuple[uuid.UUID, list[int], int]

ORDERINGS = {
    "recent": "max(bucket) DESC, sum(events) DESC, session_id",
    "events": "sum(events) DESC, max(bucket) DESC, session_id",
}
# The most sessions summed for a page in the "recent" order (a window of hours holds more
# sessions than the page needs: up to twice as many, and an hour's worth at least); a
# deeper page, or a busier hour, orders the whole range instead.
RECENT_CANDIDATES = 5_000


def _application_filter(application_id: int | None) -> tuple[str, list[object]]:
    if application_id is None:
        return "", []
    return "AND application_id = %s", [application_id]


def _ordered_rows(
    *,
    start: datetime,
    end: datetime,
    application_id: int | None,
    order: SessionOrder,
    limit: int,
    offset: int,
    slots: SlotPool | None,
) -> list[SessionRow]:
    """Every session of the range aggregated from session_activity_hour, in `order`: a
    month of it at a million sessions takes seconds, so with `slots` one is held while it
    runs (events/insight_sql.py)."""
    app, app_params = _application_filter(application_id)
    with insight_slot(slots):
        return insight_fetchall(
            sql=f"""
            SELECT session_id, array_agg(DISTINCT application_id ORDER BY application_id),
                   sum(events)::bigint
            FROM session_activity_hour
            WHERE bucket >= %s AND bucket < %s {app}
            GROUP BY session_id
            ORDER BY {ORDERINGS[order]}
            LIMIT %s OFFSET %s
            """,
            params=[start, end, *app_params, limit, offset],
            using=read_alias(),
        )


def _newest_sessions(
    *, start: datetime, end: datetime, application_id: int | None, needed: int
) -> dict[uuid.UUID, datetime]:
    """Sessions with their latest active hour in [start, end): every session active since
    some hour, at least `needed` of them unless the range holds fewer. A session left out
    was last active before every one returned, so the first `needed` sessions of the
    "recent" order are among these. The window doubles from the newest active hour, so a
    page over a month reads hours of session_activity_hour, not the month."""
    app, app_params = _application_filter(application_id)
    # From the newest hour that has activity, not from the range's end: a range that ends
    # at midnight, hours after the last event, would otherwise double past the busy hours
    # before its first session and take more than the page needs.
    [(newest,)] = _fetchall(
        f"SELECT max(bucket) FROM session_activity_hour WHERE bucket >= %s AND bucket < %s {app}",
        [start, end, *app_params],
    )
    if newest is None:
        return {}
    end = newest + HOUR
    span = HOUR
    while True:
        since = max(start, end - span)
        rows = _fetchall(
            f"""
            SELECT session_id, max(bucket) FROM session_activity_hour
            WHERE bucket >= %s AND bucket < %s {app}
            GROUP BY session_id
            """,
            [since, end, *app_params],
        )
        if len(rows) >= needed or since == start:
            return dict(rows)
        span *= 2


def _recent_rows(
    *,
    start: datetime,
    end: datetime,
    application_id: int | None,
    limit: int,
    offset: int,
    slots: SlotPool | None,
) -> list[SessionRow]:
    """The "recent" order without aggregating a month of session_activity_hour: the
    sessions that can be on this page, then the range's sums for just those (a filter on a
    scan of the range, whatever the sessions' sizes)."""
    whole_range = {"start": start, "end": end, "application_id": application_id}
    page = {"order": "recent", "limit": limit, "offset": offset, "slots": slots}
    if offset + limit > RECENT_CANDIDATES // 2:
        return _ordered_rows(**whole_range, **page)
    newest = _newest_sessions(**whole_range, needed=offset + limit)
    if len(newest) > RECENT_CANDIDATES:
        return _ordered_rows(**whole_range, **page)
    app, app_params = _application_filter(application_id)
    summed = {
        session_id: (application_ids, events)
        for session_id, application_ids, events in _fetchall(
            f"""
            SELECT session_id, array_agg(DISTINCT application_id ORDER BY application_id),
                   sum(events)::bigint
            FROM session_activity_hour
            WHERE bucket >= %s AND bucket < %s AND session_id = ANY(%s) {app}
            GROUP BY session_id
            """,
            [start, end, list(newest), *app_params],
        )
    }
    # A session removed between the two reads (a deletion request) is left out.
    ordered = sorted(session_id for session_id in newest if session_id in summed)
    ordered.sort(key=lambda session_id: (newest[session_id], summed[session_id][1]), reverse=True)
    return [(session_id, *summed[session_id]) for session_id in ordered[offset : offset + limit]]


def session_list_recent(
    *,
    start: datetime,
    end: datetime,
    application_id: int | None = None,
    order: SessionOrder = "recent",
    limit: int = 50,
    offset: int = 0,
    slots: SlotPool | None = None,
) -> list[SessionSummary]:
    """Sessions active in [start, end) (hour-aligned), most recently active or busiest
    first, from session_activity_hour; then the exact first and last events of just the
    sessions on this page, through the session index. With `slots` (a web request's pool),
    an ordering of the whole range holds one of its slots, or raises InsightsBusy at once."""
    arguments = {
        "start": start,
        "end": end,
        "application_id": application_id,
        "limit": limit,
        "offset": offset,
        "slots": slots,
    }
    rows = (
        _recent_rows(**arguments) if order == "recent" else _ordered_rows(order=order, **arguments)
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    # Each session's first and last event, one probe of the session index at each end:
    # a session of a million events (a server that sends every event with one id) costs
    # what one of ten does.
    ends = {
        session_id: (first, last, entry, exit_)
        for session_id, first, entry, last, exit_ in _fetchall(
            """
            SELECT s.id, f.ts, f.kind, l.ts, l.kind
            FROM unnest(%s::uuid[]) AS s(id)
            CROSS JOIN LATERAL (
                SELECT "timestamp" AS ts, category || ' / ' || name AS kind FROM events
                WHERE session_id = s.id ORDER BY "timestamp", event_id LIMIT 1
            ) f
            CROSS JOIN LATERAL (
                SELECT "timestamp" AS ts, category || ' / ' || name AS kind FROM events
                WHERE session_id = s.id ORDER BY "timestamp" DESC, event_id DESC LIMIT 1
            ) l
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
        # Read as breakdowns read a value (data #>> path), by a path of one object key:
        # KeyTextTransform would send a key that reads as an integer (`7`) as an array
        # index, which misses {"7": …} and fails past bigint. The key is a top-level one,
        # as the keys offered and Explore's filter its values link to take it, so a dot in
        # it is part of the key.
        .annotate(value=RawSQL("data #>> %s", ([key],), output_field=TextField()))
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


# Enough for a thousand payloads of fifty keys.
KEYS_READ = 50_000


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
    first, to offer as choices. At most KEYS_READ keys are read, newest event first: a
    payload may hold thousands of keys, and a thousand such would make every page that
    offers keys wait seconds for its list."""
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
        SELECT key FROM (
            SELECT key FROM ({sql}) AS newest, jsonb_object_keys(
                CASE WHEN jsonb_typeof(newest.data) = 'object' THEN newest.data ELSE '{{}}' END
            ) AS key
            LIMIT %s
        ) AS seen
        GROUP BY key ORDER BY count(*) DESC, key LIMIT 50
        """,
        [*params, KEYS_READ],
    )
    return [key for (key,) in rows]


def kind_first_seen_list(*, since: datetime, limit: int = 5_000) -> list[tuple[str, str]]:
    """The (category, name) pairs seen since `since`, the oldest first (by the first hour
    that holds one), then by name: the order in which colours are handed out, so that a
    kind that appears later never takes the colour of one seen before it."""
    rows = _fetchall(
        "SELECT category, name FROM event_counts_hour WHERE bucket >= %s"
        " GROUP BY category, name ORDER BY min(bucket), category, name LIMIT %s",
        [since, limit],
    )
    return [(category, name) for category, name in rows]


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
