"""The rollups that charts read always equal direct counts over the raw events."""

import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection

from events.services import EventRow, event_bulk_create
from tests.lifecycle.support import assert_rollups_match_raw

SESSIONS = [str(uuid.UUID(int=i + 1)) for i in range(7)]
KINDS = [("page interaction", "pageview"), ("page interaction", "cta click"), ("form", "submit")]


def known_rows(count: int) -> list[EventRow]:
    start = datetime(2021, 3, 1, 23, 40, tzinfo=UTC)
    rows = []
    for i in range(count):
        category, name = KINDS[i % len(KINDS)]
        at = start + timedelta(minutes=7 * i, microseconds=i)
        rows.append(EventRow(str(uuid.uuid4()), at, SESSIONS[i % 7], category, name, "{}"))
    return rows


def query(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(cursor.fetchall())


def test_it_keeps_rollups_equal_to_raw_counts(web_app, mobile_app, db):
    rows = known_rows(300)
    received = datetime.now(UTC)
    for start in range(0, 300, 40):
        event_bulk_create(
            rows=rows[start : start + 40],
            application_id=web_app.application.pk,
            received_at=received,
        )
    # A redelivered batch, counted once, and the same events from another application,
    # which are that application's own.
    event_bulk_create(rows=rows[:40], application_id=web_app.application.pk, received_at=received)
    event_bulk_create(
        rows=rows[:25], application_id=mobile_app.application.pk, received_at=received
    )

    assert_rollups_match_raw()
    assert query("SELECT application_id, sum(events) FROM event_counts_hour GROUP BY 1") == sorted(
        [(web_app.application.pk, 300), (mobile_app.application.pk, 25)]
    )


def test_it_counts_only_new_rows(web_app, db):
    rows = known_rows(10)
    received = datetime.now(UTC)

    assert (
        event_bulk_create(rows=rows, application_id=web_app.application.pk, received_at=received)
        == 10
    )
    assert (
        event_bulk_create(rows=rows, application_id=web_app.application.pk, received_at=received)
        == 0
    )
    assert query("SELECT sum(events) FROM event_counts_minute") == [(10,)]
