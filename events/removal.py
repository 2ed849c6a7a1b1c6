"""Removing stored events in small batches, with the rollups following.

Retention and deletion requests both remove events through `events_delete`: each batch
is one short transaction (a few thousand rows), so ingest and queries never wait long on
it, and each batch takes its rows out of the rollups in the same statement, so the
charts agree with the raw table after every batch, not just at the end.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection, transaction

from events.services import rollup_upserts

# Rows are picked by the table's unique key, not by ctid: on a hypertable a ctid is only
# unique within one chunk. The rollups are decreased by the ingest path's own upserts.
DELETE_BATCH = (
    """
WITH doomed AS (
    SELECT event_id, "timestamp" FROM events WHERE {where} LIMIT %(batch_size)s
),
gone AS (
    DELETE FROM events e USING doomed d
    WHERE e.event_id = d.event_id AND e."timestamp" = d."timestamp"
    RETURNING e."timestamp", e.session_id, e.category, e.name, e.application_id
),"""
    + rollup_upserts(rows="gone", sign="-")
    + """
SELECT count(*),
       coalesce(array_agg(DISTINCT date_trunc('minute', "timestamp", 'UTC')), '{{}}'),
       coalesce(array_agg(DISTINCT date_trunc('hour', "timestamp", 'UTC')), '{{}}')
FROM gone
"""
)

# A bucket whose events are all gone must go too: the session list counts a session as
# active in an hour when it has a row there.
DELETE_EMPTY_BUCKETS = """
DELETE FROM event_counts_minute WHERE bucket = ANY(%(minutes)s) AND events <= 0;
DELETE FROM event_counts_hour WHERE bucket = ANY(%(hours)s) AND events <= 0;
DELETE FROM session_activity_hour WHERE bucket = ANY(%(hours)s) AND events <= 0;
"""


def events_delete_batch(*, where: str, params: dict, batch_size: int) -> int:
    """Delete up to `batch_size` events matching `where` (SQL over the events table's
    columns, with %(name)s parameters); returns how many went."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(DELETE_BATCH.format(where=where), {**params, "batch_size": batch_size})
        deleted, minutes, hours = cursor.fetchone()
        if deleted:
            for statement in DELETE_EMPTY_BUCKETS.strip().split(";\n"):
                cursor.execute(statement, {"minutes": minutes, "hours": hours})
    return deleted


def events_delete(
    *,
    where: str,
    params: dict,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Delete every event matching `where`, batch by batch; `on_batch` hears the running
    total after each. Returns the total."""
    total = 0
    while True:
        deleted = events_delete_batch(where=where, params=params, batch_size=batch_size)
        total += deleted
        if deleted and on_batch is not None:
            on_batch(total)
        if deleted < batch_size:
            return total


REBUILD_ROLLUPS = """
DELETE FROM event_counts_minute WHERE bucket >= %(start)s AND bucket < %(end)s;
DELETE FROM event_counts_hour WHERE bucket >= %(start)s AND bucket < %(end)s;
DELETE FROM session_activity_hour WHERE bucket >= %(start)s AND bucket < %(end)s;
INSERT INTO event_counts_minute (bucket, application_id, category, name, events)
    SELECT date_trunc('minute', "timestamp", 'UTC'), application_id, category, name, count(*)
    FROM events WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY 1, 2, 3, 4;
INSERT INTO event_counts_hour (bucket, application_id, category, name, events)
    SELECT date_trunc('hour', "timestamp", 'UTC'), application_id, category, name, count(*)
    FROM events WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY 1, 2, 3, 4;
INSERT INTO session_activity_hour (bucket, application_id, session_id, events)
    SELECT date_trunc('hour', "timestamp", 'UTC'), application_id, session_id, count(*)
    FROM events WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s GROUP BY 1, 2, 3
"""


def rollups_forget_before(*, boundary: datetime) -> None:
    """Make the rollups agree with a raw table that lost every event before `boundary`
    at once (dropped chunks): buckets wholly before it go; the hour that straddles it, if
    any, is counted again from the raw events."""
    hour = boundary.replace(minute=0, second=0, microsecond=0)
    with transaction.atomic(), connection.cursor() as cursor:
        # Writers add to the straddling hour while it is recounted; hold them off for the
        # moment it takes (an hour of events at most).
        cursor.execute(
            "LOCK TABLE event_counts_minute, event_counts_hour, session_activity_hour "
            "IN SHARE ROW EXCLUSIVE MODE"
        )
        for table in ("event_counts_minute", "event_counts_hour", "session_activity_hour"):
            cursor.execute(f"DELETE FROM {table} WHERE bucket < %s", [hour])
        if hour != boundary:
            for statement in REBUILD_ROLLUPS.strip().split(";\n"):
                cursor.execute(statement, {"start": hour, "end": hour + timedelta(hours=1)})
