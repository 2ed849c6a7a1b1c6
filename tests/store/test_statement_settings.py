"""The statements that keep the rollups run without JIT compilation.

The planner takes the staging table (temporary, never analysed) for at least ten pages and
guesses rows for the tracked keys, so it can price a large batch as millions of rows and
compile it: about 0.45 s of CPU per batch for a statement that runs in 0.1 s. These tests
see the plan the worker's statement gets, and that removal runs under the same setting.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection, transaction

from events.removal import events_delete_batch
from events.services import INSERT_STAGED, EventRow, event_bulk_create, staging_fill

START = datetime(2021, 3, 1, 12, tzinfo=UTC)


def rows(count: int) -> list[EventRow]:
    session = str(uuid.uuid4())
    return [
        EventRow(
            str(uuid.uuid4()),
            START + timedelta(seconds=i),
            session,
            "page interaction",
            "pageview",
            json.dumps({"path": f"/{i}"}),
        )
        for i in range(count)
    ]


def jit_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_jit_available()")
        return cursor.fetchone()[0]


def staged_plan(cursor) -> dict:
    cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + INSERT_STAGED)
    [[plan]] = cursor.fetchall()
    return (json.loads(plan) if isinstance(plan, str) else plan)[0]


def test_the_storing_statement_is_not_compiled(web_app):
    if not jit_available():
        pytest.skip("this PostgreSQL has no JIT provider, so there is nothing to turn off")
    app = web_app.application.pk
    received = datetime.now(UTC)
    with transaction.atomic(), connection.cursor() as cursor:
        # Whether the planner prices a batch past jit_above_cost depends on its statistics
        # of the moment (bench.store measures what that costs); priced past it whatever
        # they say, the statement must still not be compiled.
        cursor.execute("SET LOCAL jit_above_cost = 0")
        # The worker's largest batch, what it writes when it has a backlog.
        batch = rows(settings.EYE_WORKER_MAX_BATCH)
        staging_fill(cursor, ((*row, app, received) for row in batch))
        plan = staged_plan(cursor)
        assert plan["Plan"]["Actual Rows"] == 1
        assert "JIT" not in plan
        # The same statement with the server's default is compiled: the setting is what
        # keeps it from being.
        cursor.execute("SET LOCAL jit = on")
        assert "JIT" in staged_plan(cursor)


def test_a_removal_batch_runs_without_jit(web_app):
    app = web_app.application.pk
    event_bulk_create(rows=rows(20), application_id=app, received_at=datetime.now(UTC))
    with transaction.atomic(), connection.cursor() as cursor:
        # As a connection that had compiled a statement before would have it.
        cursor.execute("SET LOCAL jit = on")
        deleted = events_delete_batch(
            where="application_id = %(app)s", params={"app": app}, batch_size=100
        )
        cursor.execute("SHOW jit")
        assert (deleted, cursor.fetchone()[0]) == (20, "off")
