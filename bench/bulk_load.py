"""Filling the events table for the query part: rows made by the server, rollups rebuilt.

`manage.py load_demo_events` makes every event in Python and COPYs it in (~30k events/s on
the 2-core machine), so filling the table to 10M took most of a 30-minute `make bench`.
Here the database makes them (bench/demo_sql.py), in four steps:

1. plan: count the events of each session number (only the generator's choices, no rows
   written) to split the sessions into one range per worker, the last one cut so that
   the table gains exactly `count` events;
2. load: each worker runs one INSERT … SELECT of its range on its own connection, into
   the migrated table with all its indexes, as ingest leaves it;
3. rollups: rebuilt from every raw row with GROUP BY by events.rollups, the very counts
   the ingest statement keeps one batch at a time (the values of tracked keys included);
4. check: the raw counts per hour, application, category and name against the rollups.
"""

import math
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.demo_sql import events_sql, hours_weighted
from bench.services import Database
from events.rollups import CHECK, rollups_rebuild_sql

# One INSERT per core: each spends its time in the server making rows and indexing them.
WORKERS = max(1, min(4, os.cpu_count() or 1))
# Events per session on average (events.demo's story: 1.64 on the landing page or log-in,
# 3 pages x 1.8, 1.45 for pricing and sign-up, 0.29 for the cart, 0.03 for errors: 8.81);
# the plan counts a few percent more sessions than that needs, so it never runs out.
EVENTS_PER_SESSION = 8.8

INSERT = """
INSERT INTO events (event_id, "timestamp", session_id, category, name, data,
                    application_id, received_at)
SELECT event_id, "timestamp", session_id, category, name, data,
       %(application_id)s, %(received_at)s
FROM ({events}) AS generated
"""
# For each worker's target (a running total of events), the first session reaching it.
PLAN = """
WITH per_session AS (
    SELECT k, count(*) AS events FROM ({events}) AS generated GROUP BY k
),
running AS MATERIALIZED (
    SELECT k, sum(events) OVER (ORDER BY k) AS total FROM per_session
)
SELECT reached.k, reached.total
FROM unnest(%(targets)s::bigint[]) AS target,
     LATERAL (SELECT k, total FROM running WHERE total >= target ORDER BY k LIMIT 1) AS reached
ORDER BY target
"""


@dataclass(frozen=True)
class Share:
    """One worker's sessions (numbers first to last) and how many events it writes."""

    first: int
    last: int
    events: int


def shares_plan(
    *, database: Database, sql: str, params: dict, count: int, workers: int
) -> list[Share]:
    """Session ranges for `workers` workers that add up to exactly `count` events."""
    sessions = math.ceil(count / EVENTS_PER_SESSION * 1.05) + 100
    targets = [math.ceil(count * part / workers) for part in range(1, workers + 1)]
    with database.connect() as connection:
        reached = connection.execute(
            PLAN.format(events=sql),
            # Starts are not counted, so any number of sessions does for placing them.
            {
                **params,
                "sessions": sessions,
                "first": 1,
                "last": sessions,
                "limit": None,
                "targets": targets,
            },
        ).fetchall()
    if len(reached) < len(targets):
        raise RuntimeError(f"{sessions:,} sessions make fewer than {count:,} events")
    shares, first, before = [], 1, 0
    for last, total in reached:
        # The last range stops inside its last session; ranges that coincide (a count
        # smaller than the workers) are left out.
        events = min(total, count) - before
        if last >= first and events > 0:
            shares.append(Share(first, last, events))
        first, before = last + 1, min(total, count)
    return shares


def _parallel(database: Database, statements: list[tuple[str, dict]]) -> list[int]:
    """Run each statement on its own connection at the same time; their row counts."""

    def run(statement: tuple[str, dict]) -> int:
        with database.connect() as connection:
            return connection.execute(*statement).rowcount

    with ThreadPoolExecutor(len(statements)) as pool:
        return list(pool.map(run, statements))


def _timed(step: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = step()
    return value, time.perf_counter() - started


def rollups_rebuild(database: Database) -> None:
    """The rollups counted again from every raw row, by The Eye's own statements; the two
    that read the raw rows run at once, one per connection."""
    truncate, *from_raw, hour = rollups_rebuild_sql(bounded=False)
    with database.connect() as connection:
        connection.execute(truncate)
    _parallel(database, [(statement, {}) for statement in from_raw])
    with database.connect() as connection:
        connection.execute(hour)


def rollups_check(database: Database) -> dict:
    with database.connect() as connection:
        raw, minute, hour, sessions, values = connection.execute(CHECK).fetchone()
    mismatched = {
        "event_counts_minute": minute,
        "event_counts_hour": hour,
        "session_activity_hour": sessions,
        "event_value_counts_hour": values,
    }
    return {
        "raw_events": raw,
        "mismatched_keys": mismatched,
        "equal": not any(mismatched.values()),
    }


def events_load(
    *,
    database: Database,
    application_id: int,
    count: int,
    seed: int,
    days: int = 30,
    workers: int = WORKERS,
) -> dict:
    """Add `count` demo-shaped events over the last `days` days, rebuild the rollups and
    check them; the time of each step."""
    sql = events_sql(seed)
    now = datetime.now(UTC)
    # Like events.demo: every event before the start of the current hour.
    params = {
        **hours_weighted(end=now.replace(minute=0, second=0, microsecond=0), days=days),
        "application_id": application_id,
        "received_at": now,
    }
    shares, plan_seconds = _timed(
        lambda: shares_plan(database=database, sql=sql, params=params, count=count, workers=workers)
    )
    # Session k starts at the k/sessions point of the weighted hours, so the sessions of
    # a range are contiguous in time and each worker mostly fills chunks of its own.
    params["sessions"] = shares[-1].last
    inserts = [
        (
            INSERT.format(events=sql),
            {**params, "first": share.first, "last": share.last, "limit": share.events},
        )
        for share in shares
    ]
    added, insert_seconds = _timed(lambda: sum(_parallel(database, inserts)))
    if added != count:
        raise RuntimeError(f"the bulk load added {added:,} events instead of {count:,}")
    _, rollup_seconds = _timed(lambda: rollups_rebuild(database))
    check, check_seconds = _timed(lambda: rollups_check(database))
    return {
        "method": (
            f"server-side SQL load (INSERT … SELECT from generate_series, {len(shares)} "
            "workers; rollups rebuilt with GROUP BY)"
        ),
        "sessions": params["sessions"],
        "workers": len(shares),
        "plan_seconds": round(plan_seconds, 2),
        "insert_seconds": round(insert_seconds, 2),
        "rollup_seconds": round(rollup_seconds, 2),
        "rollup_check": {**check, "seconds": round(check_seconds, 2)},
    }
