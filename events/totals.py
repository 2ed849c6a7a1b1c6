"""The exact number of events a filter of the query API matches, without counting them.

`count(*)` over millions of rows takes seconds, and every GET answers with a count. The
rollups hold exact counts per minute and hour, by application, category and name, kept in
the same statement as the rows, so a range splits into: whole hours from the hour rollup,
whole minutes at its edges from the minute rollup, and the partial minutes at its very
ends from the events themselves (at most two minutes of rows). A session's events are
few and sit together in their own index, so a session filter counts them directly.
"""

import uuid
from datetime import datetime, timedelta

from django.db import connections

from events.selectors import event_list
from events.stats import Granularity
from eye.replica import read_alias

MICROSECOND = timedelta(microseconds=1)
MINUTE, HOUR = Granularity.MINUTE, Granularity.HOUR


def event_total(
    *,
    application_id: int,
    session_id: uuid.UUID | str | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_inclusive: datetime | None = None,
    end_exclusive: datetime | None = None,
) -> int:
    filters = {"application_id": application_id, "category": category, "name": name}
    if session_id is not None:
        return event_list(
            session_id=session_id,
            start=start,
            end_inclusive=end_inclusive,
            end_exclusive=end_exclusive,
            **filters,
        ).count()
    # Timestamps are stored to the microsecond, so "at or before e" is "before e + 1 µs".
    end = end_inclusive + MICROSECOND if end_inclusive is not None else end_exclusive
    if start is not None and end is not None and start >= end:
        return 0
    parts: list[tuple[str, datetime | None, datetime | None]] = []
    first_minute = MINUTE.ceil(start) if start is not None else None
    last_minute = MINUTE.floor(end) if end is not None else None
    if first_minute is not None and last_minute is not None and first_minute >= last_minute:
        parts.append(("events", start, end))
    else:
        if start is not None and start != first_minute:
            parts.append(("events", start, first_minute))
        if end is not None and end != last_minute:
            parts.append(("events", last_minute, end))
        parts += _whole_minutes(first_minute, last_minute)
    return _sum(parts, filters)


def _whole_minutes(
    start: datetime | None, end: datetime | None
) -> list[tuple[str, datetime | None, datetime | None]]:
    """[start, end), both on minute boundaries or open: hours from the hour rollup, the
    minutes around them from the minute rollup."""
    first_hour = HOUR.ceil(start) if start is not None else None
    last_hour = HOUR.floor(end) if end is not None else None
    if first_hour is not None and last_hour is not None and first_hour >= last_hour:
        return [("event_counts_minute", start, end)]
    parts = [("event_counts_hour", first_hour, last_hour)]
    if start is not None and start != first_hour:
        parts.append(("event_counts_minute", start, first_hour))
    if end is not None and end != last_hour:
        parts.append(("event_counts_minute", last_hour, end))
    return parts


def _sum(parts: list[tuple[str, datetime | None, datetime | None]], filters: dict) -> int:
    selects, params = [], []
    for table, start, end in parts:
        column, measure = (
            ('"timestamp"', "count(*)") if table == "events" else ("bucket", "sum(events)")
        )
        clauses = [f"{key} = %s" for key, value in filters.items() if value is not None]
        params += [value for value in filters.values() if value is not None]
        if start is not None:
            clauses.append(f"{column} >= %s")
            params.append(start)
        if end is not None:
            clauses.append(f"{column} < %s")
            params.append(end)
        selects.append(
            f"(SELECT coalesce({measure}, 0) FROM {table} WHERE {' AND '.join(clauses)})"
        )
    with connections[read_alias()].cursor() as cursor:
        # One round trip, one snapshot: the parts cannot disagree about a row stored
        # between them.
        cursor.execute(f"SELECT ({' + '.join(selects)})::bigint", params)
        return cursor.fetchone()[0]
