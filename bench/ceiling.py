"""The raw ceiling: COPY of N realistic events straight into the `events` table.

No API, no queue, no rollups, no ON CONFLICT: one psycopg `cursor.copy` in one
transaction into the migrated table with all its indexes (and chunks, on TimescaleDB).
Every ingest figure of the run is divided by this number. The events are made before the
clock starts (events.demo, the generator behind `make demo`), so only the COPY, the index
maintenance and the commit are timed.
"""

import time
from datetime import UTC, datetime

from bench.services import Database

COPY_EVENTS = (
    'COPY events (event_id, "timestamp", session_id, category, name, data, '
    "application_id, received_at) FROM STDIN"
)


def ceiling_measure(*, database: Database, application_id: int, events: int) -> dict:
    from events.demo import demo_events  # needs Django set up, which bench.run does

    received_at = datetime.now(UTC)
    started = time.perf_counter()
    rows = [
        (*row, application_id, received_at)
        for row in demo_events(count=events, days=30, seed=20_061)
    ]
    made_seconds = time.perf_counter() - started
    with database.connect() as connection:
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(COPY_EVENTS) as copy:
            for row in rows:
                copy.write_row(row)
        connection.commit()
        seconds = time.perf_counter() - started
        stored = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    return {
        "events": events,
        "stored": stored,
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1),
        "generate_seconds_untimed": round(made_seconds, 3),
        "method": "one COPY (text) of demo events into events, one transaction, one client",
    }
