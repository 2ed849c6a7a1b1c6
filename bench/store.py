"""The storing statement alone: one backend, the worker's own code, no HTTP, no queue.

    .venv/bin/python -m bench.store                       # live and backfill, 20 x 5,000 rows
    .venv/bin/python -m bench.store --migrate-to 0005_lifecycle   # the schema before a change
    .venv/bin/python -m bench.store --fill 3000000        # on a table that already holds 3M

`make bench` measures the whole path under wrk, and every process shares the cores, so a
change to the schema or to the statement shows there through a lot of noise. This
measures only what such a change touches: a private durable cluster (as make bench's,
bench/services.py), migrated to the latest schema or to `--migrate-to`; rows shaped like
bench/wrk.lua's (random UUIDv4 ids, 5,000 interleaved sessions, live or backfill
timestamps), made before the clock starts; `events.services.event_bulk_create` on them
batch by batch; then the COPY ceiling of the same rows (bench/ceiling.py). With
`--explain`, the last batch runs under EXPLAIN (ANALYZE, BUFFERS, WAL) instead, printed.
"""

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import ceiling, query, services

CATEGORIES = [
    ("page interaction", "pageview", 44),
    ("page interaction", "scroll", 22),
    ("page interaction", "cta click", 13),
    ("account", "log in", 5),
    ("form interaction", "form start", 4),
    ("form interaction", "submit", 3),
    ("commerce", "add to cart", 3),
    ("account", "sign up", 2),
    ("form interaction", "validation error", 1),
    ("commerce", "checkout", 1),
    ("commerce", "purchase", 1),
    ("errors", "js error", 1),
]


def rows_make(*, count: int, profile: str, seed: int, sessions: int = 5_000) -> list[tuple]:
    """EventRow fields, in the shape of bench/wrk.lua's events."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    kinds = [(c, n) for c, n, _ in CATEGORIES]
    weights = [w for _, _, w in CATEGORIES]

    def session() -> list:
        start = now - timedelta(seconds=rng.uniform(3600, 30 * 86400))
        return [str(uuid.uuid4()), rng.randint(3, 30), start]

    pool = [session() for _ in range(sessions)]
    rows = []
    for _ in range(count):
        slot = rng.randrange(sessions)
        current = pool[slot]
        current[1] -= 1
        if current[1] <= 0:
            pool[slot] = session()
        if profile == "backfill":
            current[2] += timedelta(seconds=rng.uniform(1, 49))
            at = current[2]
        else:
            at = now - timedelta(seconds=rng.uniform(0, 60))
        category, name = rng.choices(kinds, weights)[0]
        data = (
            f'{{"host": "www.shop.example", "path": "/products/lamp", "browser": "Chrome", '
            f'"country": "DE", "referrer": "google", "n": {rng.randrange(1000)}}}'
        )
        rows.append((str(uuid.uuid4()), at, current[0], category, name, data))
    return rows


def store_measure(*, rows: list[tuple], batch: int, application_id: int, explain: bool) -> dict:
    from django.db import connection, transaction

    from events.services import (
        INSERT_STAGED,
        EventRow,
        event_bulk_create,
        staging_fill,
    )

    started = time.perf_counter()
    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    plan = None
    for number, part in enumerate(batches):
        part_rows = [EventRow(*row) for row in part]
        if explain and number == len(batches) - 1:
            with transaction.atomic(), connection.cursor() as cursor:
                received = datetime.now(UTC)
                staging_fill(cursor, ((*row, application_id, received) for row in part_rows))
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, WAL) " + INSERT_STAGED)
                plan = "\n".join(line for (line,) in cursor.fetchall())
            continue
        event_bulk_create(
            rows=part_rows, application_id=application_id, received_at=datetime.now(UTC)
        )
    seconds = time.perf_counter() - started
    stored = len(rows) - (len(batches[-1]) if explain else 0)
    return {
        "rows": stored,
        "seconds": round(seconds, 2),
        "rows_per_second": round(stored / seconds),
        "plan": plan,
    }


def wal_totals(database: services.Database) -> dict[str, int]:
    """The cluster's WAL counters after a CHECKPOINT (pg_stat_wal)."""
    with database.connect(autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        records, fpi, wal_bytes = connection.execute(
            "SELECT wal_records, wal_fpi, wal_bytes FROM pg_stat_wal"
        ).fetchone()
    return {"wal_records": int(records), "wal_fpi": int(fpi), "wal_bytes": int(wal_bytes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batch", type=int, default=5_000, help="rows per statement (5,000)")
    parser.add_argument("--batches", type=int, default=20, help="statements per profile (20)")
    parser.add_argument("--fill", type=int, default=0, help="events in the table first (0)")
    parser.add_argument("--migrate-to", help="an events migration to stop at (default: latest)")
    parser.add_argument("--database", choices=("auto", "timescaledb", "plain"), default="auto")
    parser.add_argument("--fast-unsafe", action="store_true", help="fsync and friends off")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the last batch")
    options = parser.parse_args(argv)
    log_file = open(Path(tempfile.gettempdir()) / f"bench-store-{os.getpid()}.log", "w")
    database = services.database_start(
        log_file, choice=options.database, unsafe=options.fast_unsafe
    )
    try:
        services.database_recreate(database)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "eye.settings",
            "EYE_DATABASE_URL": database.url(),
            "EYE_TIMESCALEDB": "auto",
        }
        target = ["events", options.migrate_to] if options.migrate_to else []
        services.manage(env, "migrate", "--noinput", *target, log_file=log_file)
        flavour = services.database_flavour(database)
        print(f"database: {flavour['label']}")
        print(f"schema: events migrated to {options.migrate_to or 'the latest'}")
        load = " / ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"load average: {load} on {os.cpu_count()} cores")
        os.environ.update({k: v for k, v in env.items() if k.startswith(("EYE_", "DJANGO_"))})
        import django

        django.setup()
        application_id = 1
        if options.fill:
            load = query.load_to(
                database=database, application_id=application_id, size=options.fill, seed=7
            )
            print(f"filled to {load['events']:,} events in {load['load_seconds']} s")
        for number, profile in enumerate(("live", "backfill")):
            rows = rows_make(count=options.batch * options.batches, profile=profile, seed=number)
            # Every profile starts at the same point of the checkpoint cycle: the first
            # change of a page after a checkpoint writes all of it to the WAL.
            wal_before = wal_totals(database)
            since = datetime.now(UTC)
            figures = store_measure(
                rows=rows,
                batch=options.batch,
                application_id=application_id,
                explain=options.explain,
            )
            wal = {k: v - wal_before[k] for k, v in wal_totals(database).items()}
            copy = ceiling.ceiling_measure(database=database, since=since)
            print(
                f"{profile:9} stored {figures['rows']:,} rows in {figures['seconds']} s = "
                f"{figures['rows_per_second']:,} rows/s; COPY of the same rows "
                f"{copy['events_per_second']:,.0f} rows/s; ratio "
                f"{figures['rows_per_second'] / copy['events_per_second']:.2f}"
            )
            print(
                f"{'':9} WAL per stored row: {wal['wal_bytes'] / len(rows):,.0f} bytes, "
                f"{wal['wal_records'] / len(rows):.1f} records, "
                f"{wal['wal_fpi'] / len(rows):.2f} full-page images"
            )
            if figures["plan"]:
                print(figures["plan"])
        print(f"load average: {' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    finally:
        services.database_stop(database, log_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
