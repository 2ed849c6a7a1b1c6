"""Retention removes exactly the events past their rule, on TimescaleDB and on plain
PostgreSQL, and the rollups follow."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from events.models import AuditEntry, RetentionRun
from events.retention import (
    retention_enforce,
    retention_preview,
    retention_rule_remove,
    retention_rule_save,
)
from tests.lifecycle.support import assert_rollups_match_raw, put_events, stored_ids

pytestmark = pytest.mark.usefixtures("store")

DAY = timedelta(days=1)


def around(now, days: int) -> tuple[list, list]:
    """Instants just inside and just outside a window of `days` days."""
    boundary = now - days * DAY
    inside = [boundary + timedelta(minutes=5), boundary + timedelta(hours=6)]
    outside = [boundary - timedelta(minutes=5), boundary - timedelta(days=3)]
    return inside, outside


def test_global_rule_removes_exactly_the_events_outside_its_window(web_app):
    now = timezone.now()
    inside, outside = around(now, 10)
    keep = put_events(web_app.application, [*inside, now - timedelta(hours=1)])
    drop = put_events(web_app.application, outside)
    retention_rule_save(application=None, category="", days=10)

    run = retention_enforce(now=now)

    assert stored_ids() == set(keep)
    assert not stored_ids() & set(drop)
    assert run.removed == len(drop)
    assert run.error == ""
    assert run.finished_at is not None
    assert_rollups_match_raw()


def test_overrides_follow_the_most_specific_rule(web_app, mobile_app):
    now = timezone.now()
    web, mobile = web_app.application, mobile_app.application
    retention_rule_save(application=None, category="", days=30)
    retention_rule_save(application=None, category="debug", days=2)
    retention_rule_save(application=mobile, category="", days=5)
    retention_rule_save(application=mobile, category="billing", days=60)
    kept, gone = set(), set()
    for app, category, days in (
        (web, "page", 30),
        (web, "debug", 2),
        (mobile, "page", 5),
        # The application's rule is more specific than the category's.
        (mobile, "debug", 5),
        (mobile, "billing", 60),
    ):
        inside, outside = around(now, days)
        kept |= set(put_events(app, inside, category=category))
        gone |= set(put_events(app, outside, category=category))

    run = retention_enforce(now=now)

    assert stored_ids() == kept
    assert run.removed == len(gone)
    # On a hypertable some go with whole chunks, the rest rule by rule; in all, the same.
    assert sum(detail["removed"] for detail in run.details) == len(gone)
    scopes = {detail["scope"] for detail in run.details}
    assert {
        "every event",
        "category debug",
        "application mobile",
        "application mobile, category billing",
    } <= scopes
    assert_rollups_match_raw()


def test_preview_counts_what_the_rule_would_remove(web_app, mobile_app):
    now = timezone.now()
    inside, outside = around(now, 7)
    put_events(web_app.application, inside + outside, category="page")
    put_events(web_app.application, outside, category="debug")
    put_events(mobile_app.application, outside, category="page")
    retention_rule_save(application=None, category="debug", days=90)

    # Global 7 days: everything outside except debug, which its own longer rule protects.
    assert retention_preview(application=None, category="", days=7) == 4
    # An application's rule outranks a category's: web's debug events would follow it.
    assert retention_preview(application=web_app.application, category="", days=7) == 4
    assert retention_preview(application=None, category="debug", days=7) == 2
    assert retention_preview(application=None, category="", days=365) == 0

    retention_rule_save(application=None, category="", days=7)
    assert retention_enforce(now=timezone.now()).removed == 4


def test_no_rule_keeps_everything(web_app):
    ids = put_events(web_app.application, [timezone.now() - timedelta(days=3000)])
    run = retention_enforce()
    assert run.removed == 0
    assert stored_ids() == set(ids)


def test_removal_goes_in_batches_of_the_configured_size(web_app, settings):
    settings.EYE_DELETE_BATCH_SIZE = 3
    now = timezone.now()
    put_events(web_app.application, [now - timedelta(days=20, minutes=i) for i in range(10)])
    retention_rule_save(application=None, category="", days=10)
    assert retention_enforce(now=now).removed == 10
    assert stored_ids() == set()
    assert_rollups_match_raw()


def test_whole_chunks_are_dropped_on_a_hypertable(hypertable, web_app):
    now = timezone.now()
    # One event a day for 40 days: with one-day chunks, about 40 chunks.
    ids = put_events(web_app.application, [now - i * DAY - timedelta(hours=1) for i in range(40)])
    before = chunk_count()
    retention_rule_save(application=None, category="", days=10)

    run = retention_enforce(now=now)

    assert run.chunks_dropped > 0
    assert chunk_count() == before - run.chunks_dropped
    assert run.removed == 30
    assert stored_ids() == set(ids[:10])
    assert_rollups_match_raw()


def test_an_override_longer_than_the_global_rule_keeps_its_chunks(hypertable, web_app):
    now = timezone.now()
    kept = put_events(web_app.application, [now - 20 * DAY], category="billing")
    put_events(web_app.application, [now - 20 * DAY, now - 25 * DAY], category="page")
    retention_rule_save(application=None, category="", days=10)
    retention_rule_save(application=None, category="billing", days=30)

    run = retention_enforce(now=now)

    assert stored_ids() == set(kept)
    assert run.removed == 2
    assert_rollups_match_raw()


def test_plain_postgresql_removes_rows_without_chunks(plain_table, web_app):
    now = timezone.now()
    keep = put_events(web_app.application, [now - 2 * DAY])
    put_events(web_app.application, [now - 40 * DAY, now - 400 * DAY])
    retention_rule_save(application=None, category="", days=10)
    run = retention_enforce(now=now)
    assert (run.removed, run.chunks_dropped) == (2, 0)
    assert stored_ids() == set(keep)
    assert_rollups_match_raw()


def chunk_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'events'"
        )
        return cursor.fetchone()[0]


def test_saving_and_removing_rules_is_audited(web_app, django_user_model):
    bob = django_user_model.objects.create_user("bob", is_staff=True)
    rule = retention_rule_save(application=web_app.application, category="", days=9, actor=bob)
    retention_rule_save(application=web_app.application, category="", days=12, actor=bob)
    rule.refresh_from_db()
    assert rule.days == 12
    retention_rule_remove(rule=rule, actor=bob)
    entries = list(
        AuditEntry.objects.filter(action__startswith="retention.")
        .order_by("id")
        .values_list("actor_name", "action", "details")
    )
    assert entries == [
        ("bob", "retention.saved", {"days": 9, "previous_days": None}),
        ("bob", "retention.saved", {"days": 12, "previous_days": 9}),
        ("bob", "retention.removed", {"days": 12}),
    ]


def test_events_already_outside_the_window_are_refused(api, web_app):
    retention_rule_save(application=None, category="", days=30)
    retention_rule_save(application=None, category="debug", days=1)
    now = timezone.now()
    event = {
        "session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
        "category": "page",
        "name": "view",
    }
    old = {**event, "timestamp": (now - 31 * DAY).isoformat()}
    recent = {**event, "timestamp": (now - 29 * DAY).isoformat()}
    debug = {**event, "category": "debug", "timestamp": (now - 2 * DAY).isoformat()}

    assert api.post(recent, key=web_app.writer).status_code == 202
    response = api.post([recent, old, debug], key=web_app.writer)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(1, "timestamp"), (2, "timestamp")]
    assert "30 days" in errors[0]["message"] and "1 day," in errors[1]["message"]


def test_the_command_runs_retention_and_says_what_went(web_app, capsys):
    put_events(web_app.application, [timezone.now() - 50 * DAY])
    retention_rule_save(application=None, category="", days=10)
    call_command("enforce_retention")
    out = capsys.readouterr().out
    assert "every event: 10 days" in out
    assert "Removed 1 events in all" in out
    assert RetentionRun.objects.count() == 1


def test_the_worker_runs_retention_when_asked(consumer_without_periodic_tasks, web_app):
    from tasks.tasks import retention_enforce_enqueue
    from tests.support import wait_for

    # A consumer of its own quarter-hourly retention run could finish one before the rule
    # below exists, and the wait would end on that run instead of the one asked for.
    put_events(web_app.application, [timezone.now() - 50 * DAY])
    retention_rule_save(application=None, category="", days=10)
    retention_enforce_enqueue()
    assert wait_for(lambda: RetentionRun.objects.filter(finished_at__isnull=False).exists())
    assert stored_ids() == set()
