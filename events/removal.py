"""Removing stored events in small batches, with the rollups following.

Retention and deletion requests both remove events through `events_delete`: each batch
is one short transaction (a few thousand rows), so ingest and queries never wait long on
it, and each batch takes its rows out of the rollups in the same statement, so the
charts agree with the raw table after every batch, not just at the end.
"""

from collections.abc import Callable

from django.db import connection, transaction

from events.rollups import TOUCHED_BUCKETS, WITHOUT_JIT, rollup_upserts, rollups_empty_delete

# Rows are picked by the table's unique key, not by ctid: on a hypertable a ctid is only
# unique within one chunk. The rollups are decreased by the ingest path's own upserts.
DELETE_BATCH = (
    """
WITH doomed AS (
    SELECT "timestamp", event_id, application_id FROM events WHERE {where}
    LIMIT %(batch_size)s
),
gone AS (
    DELETE FROM events e USING doomed d
    WHERE e."timestamp" = d."timestamp" AND e.event_id = d.event_id
      AND e.application_id = d.application_id
    RETURNING e."timestamp", e.session_id, e.category, e.name, e.application_id, e.data
),"""
    + rollup_upserts(rows="gone", sign="-")
    + """
SELECT count(*),"""
    + TOUCHED_BUCKETS
    + """
FROM gone
"""
)


def events_delete_batch(*, where: str, params: dict, batch_size: int) -> int:
    """Delete up to `batch_size` events matching `where` (SQL over the events table's
    columns, with %(name)s parameters); returns how many went."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(WITHOUT_JIT)
        cursor.execute(DELETE_BATCH.format(where=where), {**params, "batch_size": batch_size})
        deleted, minutes, hours = cursor.fetchone()
        if deleted:
            rollups_empty_delete(minutes=minutes, hours=hours)
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
