"""The value counts of tracked keys are rebuilt from the raw events and checked against
them like the other rollups (bench/bulk_load.py rebuilds and checks with these)."""

import uuid
from datetime import UTC, datetime, timedelta

from django.db import connection

from events.rollups import CHECK, rollups_rebuild_sql
from events.tracked_keys import tracked_key_add, tracked_key_backfill
from tests.insights.support import Stored, events_store
from tests.lifecycle.support import assert_rollups_match_raw

START = datetime(2026, 1, 5, 10, 30, tzinfo=UTC)


def stored_pageviews(application_id: int) -> None:
    events_store(
        application_id,
        [
            Stored(
                str(uuid.uuid4()),
                START + timedelta(minutes=11 * i),
                "page",
                "view",
                {"path": f"/{i % 4}"} if i % 5 else {"form": {"plan": "pro"}},
            )
            for i in range(250)
        ],
    )


def check() -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(CHECK)
        return cursor.fetchone()


def test_the_check_finds_a_value_count_that_differs(store, web_app):
    stored_pageviews(web_app.application.pk)
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    assert check() == (250, 0, 0, 0, 0)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE event_value_counts_hour SET events = events + 1 WHERE value = '/2'")

    assert check()[4] > 0


def test_a_rebuild_counts_the_tracked_keys_again(store, web_app):
    stored_pageviews(web_app.application.pk)
    for key in ("path", "form.plan"):
        tracked_key_backfill(tracked_key_id=tracked_key_add(key=key).pk)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE event_value_counts_hour SET events = 7")
        for statement in rollups_rebuild_sql(bounded=False):
            cursor.execute(statement)

    assert_rollups_match_raw()
    assert check() == (250, 0, 0, 0, 0)


def test_a_bounded_rebuild_recounts_its_hours_only(store, web_app):
    stored_pageviews(web_app.application.pk)
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    hour = START.replace(minute=0) + timedelta(hours=5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE event_value_counts_hour SET events = events + 3")
        cursor.execute(
            "UPDATE event_value_counts_hour SET events = events - 3 WHERE bucket <> %s", [hour]
        )
        for statement in rollups_rebuild_sql(bounded=True):
            cursor.execute(statement, {"start": hour, "end": hour + timedelta(hours=1)})

    assert_rollups_match_raw()
