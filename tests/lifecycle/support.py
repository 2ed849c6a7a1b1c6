"""Events put straight into the store (through the real write path that keeps the
rollups) at chosen instants, and checks that the rollups still agree with them."""

import uuid
from datetime import datetime

from django.db import connection
from django.utils import timezone

from events.models import Application
from events.rollups import MAX_VALUE_ROW_BYTES
from events.services import EventRow, event_bulk_create


def put_events(
    application: Application,
    instants: list[datetime],
    *,
    category: str = "page",
    name: str = "view",
    session_id: uuid.UUID | None = None,
) -> list[str]:
    """Store one event per instant; returns their ids."""
    session = str(session_id or uuid.uuid4())
    rows = [EventRow(str(uuid.uuid4()), at, session, category, name, "{}") for at in instants]
    event_bulk_create(rows=rows, application_id=application.pk, received_at=timezone.now())
    return [row.event_id for row in rows]


def stored_ids() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT event_id::text FROM events")
        return {row[0] for row in cursor.fetchall()}


def _rows(sql: str) -> set[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return set(cursor.fetchall())


def assert_rollups_match_raw() -> None:
    """Every rollup row equals a count over the raw events, and no rollup row is left
    for a bucket whose events are all gone."""
    for table, unit in (("event_counts_minute", "minute"), ("event_counts_hour", "hour")):
        assert _rows(
            f"SELECT bucket, application_id, category, name, events FROM {table}"
        ) == _rows(
            f"SELECT date_trunc('{unit}', \"timestamp\", 'UTC'), application_id, category, "
            "name, count(*) FROM events GROUP BY 1, 2, 3, 4"
        ), table
    assert _rows(
        "SELECT bucket, application_id, session_id, events FROM session_activity_hour"
    ) == _rows(
        "SELECT date_trunc('hour', \"timestamp\", 'UTC'), application_id, session_id, count(*) "
        "FROM events GROUP BY 1, 2, 3"
    )
    assert _rows(
        "SELECT bucket, application_id, category, name, key, too_long, value, events "
        "FROM event_value_counts_hour"
    ) == _rows(
        f"""
        SELECT bucket, application_id, category, name, key, too_long,
               CASE WHEN too_long THEN '' ELSE value END, count(*)
        FROM (
            SELECT date_trunc('hour', e."timestamp", 'UTC') AS bucket, e.application_id,
                   e.category, e.name, t.key, e.data #>> string_to_array(t.key, '.') AS value,
                   octet_length(e.category) + octet_length(e.name)
                   + octet_length(e.data #>> string_to_array(t.key, '.'))
                   > {MAX_VALUE_ROW_BYTES} AS too_long
            FROM events e CROSS JOIN events_trackedkey t
        ) AS valued
        WHERE value IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        """
    ), "event_value_counts_hour"
