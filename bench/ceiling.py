"""The raw ceiling of one load: COPY of the very rows it stored, into the same table.

No API, no queue, no rollups, no ON CONFLICT: the rows a load stored (those received
since it started) are read out, deleted, the table vacuumed, and then written back by one
psycopg `cursor.copy` in one transaction, into the same table, with the same indexes and
the rows that were there before the load (none, or millions in `make bench-scale`). Each
ingest figure is divided by the ceiling of its own rows, so a ratio compares like with
like: the same ids, timestamps, sessions and payloads, the same chunks and index pages.
"""

import time
from datetime import datetime

from bench.services import Database

COLUMNS = 'event_id, "timestamp", session_id, category, name, data, application_id, received_at'


def ceiling_measure(*, database: Database, since: datetime) -> dict:
    """COPY the rows received at or after `since` back into events; the time it took."""
    with database.connect(autocommit=True) as connection:
        started = time.perf_counter()
        out = (
            f"COPY (SELECT {COLUMNS} FROM events WHERE received_at >= %s) TO STDOUT (FORMAT binary)"
        )
        with connection.cursor().copy(out, [since]) as copy:
            chunks = [bytes(chunk) for chunk in copy]
        read_seconds = time.perf_counter() - started
        connection.execute("DELETE FROM events WHERE received_at >= %s", [since])
        started = time.perf_counter()
        # The deleted rows' index entries would otherwise be in the COPY's way.
        connection.execute("VACUUM events")
        vacuum_seconds = time.perf_counter() - started
    with database.connect() as connection:
        started = time.perf_counter()
        with connection.cursor().copy(
            f"COPY events ({COLUMNS}) FROM STDIN (FORMAT binary)"
        ) as copy:
            for chunk in chunks:
                copy.write(chunk)
        connection.commit()
        seconds = time.perf_counter() - started
        rows = connection.execute(
            "SELECT count(*) FROM events WHERE received_at >= %s", [since]
        ).fetchone()[0]
    return {
        "events": rows,
        "seconds": round(seconds, 3),
        "events_per_second": round(rows / seconds, 1) if seconds > 0 else 0.0,
        "read_out_seconds_untimed": round(read_seconds, 3),
        "vacuum_seconds_untimed": round(vacuum_seconds, 3),
        "method": "the load's own rows, deleted and COPYed back (binary) into the same "
        "table and indexes, one transaction, one client",
    }
