"""The value counts of tracked keys stay equal to the raw events: through the backfill
and ingest at once (no event counted twice or missed), deletions, retention, and the
removal of the key."""

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from events.breakdowns import breakdown_series
from events.models import TrackedKey
from events.removal import events_delete
from events.retention import retention_enforce, retention_rule_save
from events.rollups import Granularity
from events.services import COPY_STAGING, CREATE_STAGING, INSERT_STAGED
from events.tracked_keys import tracked_key_add, tracked_key_backfill, tracked_key_remove
from tests.insights.support import Stored, events_store
from tests.lifecycle.support import assert_rollups_match_raw

pytestmark = pytest.mark.usefixtures("store")

START = datetime(2026, 3, 2, 22, 10, tzinfo=UTC)
DAY = timedelta(days=1)


def pageviews(count: int, *, start: datetime = START, step: timedelta = timedelta(minutes=13)):
    """Pageviews from `start`, one path in four missing, a plan in every third."""
    events = []
    for i in range(count):
        data: dict = {} if i % 4 == 0 else {"path": f"/{i % 6}"}
        if i % 3 == 0:
            data["form"] = {"plan": ["free", "pro"][i % 2]}
        events.append(Stored(str(uuid.uuid4()), start + i * step, "page", "view", data))
    return events


def value_total(key: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(events), 0) FROM event_value_counts_hour WHERE key = %s", [key]
        )
        return int(cursor.fetchone()[0])


def test_it_counts_events_stored_before_and_after_the_key_once(web_app):
    app = web_app.application.pk
    events_store(app, pageviews(200))
    tracked = tracked_key_add(key="path")
    # Stored after the key, in the same days as those before: ingest counts these.
    events_store(app, pageviews(100, start=START + timedelta(minutes=5)))
    assert value_total("path") == 75

    tracked_key_backfill(tracked_key_id=tracked.pk)
    events_store(app, pageviews(40, start=START + timedelta(minutes=9)))

    tracked.refresh_from_db()
    assert tracked.is_ready
    assert value_total("path") == 150 + 75 + 30
    assert_rollups_match_raw()


def test_an_interrupted_backfill_resumes_and_counts_nothing_twice(web_app):
    events_store(web_app.application.pk, pageviews(300, step=timedelta(minutes=31)))
    tracked = tracked_key_add(key="form.plan")
    tracked_key_backfill(tracked_key_id=tracked.pk)
    # As if the worker had stopped after the second day and the task ran again.
    TrackedKey.objects.filter(pk=tracked.pk).update(
        ready_at=None, backfilled_until=datetime(2026, 3, 4, tzinfo=UTC)
    )

    tracked_key_backfill(tracked_key_id=tracked.pk)

    assert value_total("form.plan") == 100
    assert_rollups_match_raw()


def _database_url() -> str:
    settings = connection.settings_dict
    return (
        f"host={settings['HOST']} port={settings['PORT'] or 5432} "
        f"user={settings['USER']} dbname={settings['NAME']}"
    )


def test_the_backfill_waits_for_a_store_that_began_before_the_key(web_app):
    """A storing statement whose snapshot predates the key does not count it; the
    backfill must wait for it to commit, then count its events."""
    app = web_app.application.pk
    events_store(app, pageviews(50))
    late = pageviews(40, start=START + timedelta(minutes=3))
    with psycopg.connect(_database_url()) as other:
        other.execute(CREATE_STAGING)
        with other.cursor().copy(COPY_STAGING) as copy:
            for event in late:
                copy.write_row(
                    (
                        event.event_id,
                        event.timestamp,
                        event.session_id,
                        event.category,
                        event.name,
                        json.dumps(event.data),
                        app,
                        timezone.now(),
                    )
                )
        other.execute(INSERT_STAGED)
        # Stored, not committed: the key comes now, and its backfill starts.
        tracked = tracked_key_add(key="path")
        failures: list[BaseException] = []

        def backfill() -> None:
            try:
                tracked_key_backfill(tracked_key_id=tracked.pk)
            except BaseException as exc:  # reported below, in the test's thread
                failures.append(exc)
            finally:
                connection.close()

        worker = threading.Thread(target=backfill)
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive(), "the backfill did not wait for the store in flight"
        other.commit()
        worker.join(timeout=30)
    assert not failures
    assert value_total("path") == 37 + 30
    assert_rollups_match_raw()


def test_deletions_keep_the_counts_and_the_breakdown_exact(web_app):
    app = web_app.application.pk
    events = pageviews(300)
    events_store(app, events)
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    session = events[7].session_id
    removed = START + timedelta(hours=5, minutes=17), START + timedelta(hours=30)

    events_delete(
        where='"timestamp" >= %(start)s AND "timestamp" < %(end)s OR session_id = %(session)s',
        params={"start": removed[0], "end": removed[1], "session": session},
        batch_size=25,
    )

    assert_rollups_match_raw()
    query = dict(
        key="path",
        start=START,
        end_exclusive=START + 3 * DAY,
        granularity=Granularity.HOUR,
        application_id=app,
    )
    breakdown = breakdown_series(**query)
    TrackedKey.objects.update(ready_at=None)
    assert breakdown == breakdown_series(**query)
    kept = [e for e in events if not removed[0] <= e.timestamp < removed[1]]
    assert breakdown.total == len(kept) - (events[7] in kept)


def test_retention_keeps_the_counts_exact(web_app):
    now = timezone.now()
    app = web_app.application.pk
    # One pageview every 90 minutes over the last 40 days.
    events_store(app, pageviews(640, start=now - 40 * DAY, step=timedelta(minutes=90)))
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    retention_rule_save(application=None, category="", days=10)

    run = retention_enforce(now=now)

    assert run.removed > 0 and not run.error
    assert_rollups_match_raw()
    start = (now - 12 * DAY).replace(minute=0, second=0, microsecond=0)
    query = dict(key="path", start=start, end_exclusive=now, granularity=Granularity.DAY)
    breakdown = breakdown_series(**query)
    TrackedKey.objects.update(ready_at=None)
    assert breakdown == breakdown_series(**query)


def test_removing_a_key_deletes_its_counts_only(web_app):
    events_store(web_app.application.pk, pageviews(120))
    path = tracked_key_add(key="path")
    plan = tracked_key_add(key="form.plan")
    for tracked in (path, plan):
        tracked_key_backfill(tracked_key_id=tracked.pk)

    tracked_key_remove(tracked_key=path)
    events_store(web_app.application.pk, pageviews(12, start=START + timedelta(minutes=1)))

    assert value_total("path") == 0
    assert value_total("form.plan") == 40 + 4
    assert_rollups_match_raw()


def test_a_backfill_stops_when_its_key_is_removed(web_app):
    events_store(web_app.application.pk, pageviews(60))
    tracked = tracked_key_add(key="path")
    tracked_key_remove(tracked_key=tracked)

    tracked_key_backfill(tracked_key_id=tracked.pk)

    assert value_total("path") == 0
    assert not TrackedKey.objects.exists()


def test_a_backfill_passes_over_the_days_without_events(web_app, monkeypatch):
    # One accepted event stamped in year 1: walking the calendar from it, a day per
    # transaction, would take hours and hold a worker all that while.
    import events.tracked_keys

    app = web_app.application.pk
    events_store(app, pageviews(20, step=timedelta(hours=5)))
    ancient = datetime(1, 1, 1, 12, tzinfo=UTC)
    events_store(app, [Stored(str(uuid.uuid4()), ancient, "page", "view", {"path": "/old"})])
    recounted: list[datetime] = []
    recount = events.tracked_keys.value_counts_recount

    def counted_recount(*, key: str, start: datetime, end: datetime) -> None:
        recounted.append(start)
        assert len(recounted) < 100, "the backfill walks days without events"
        recount(key=key, start=start, end=end)

    monkeypatch.setattr(events.tracked_keys, "value_counts_recount", counted_recount)
    tracked = tracked_key_add(key="path")

    assert tracked_key_backfill(tracked_key_id=tracked.pk) is True

    tracked.refresh_from_db()
    assert tracked.is_ready
    assert recounted[0] == datetime(1, 1, 1, tzinfo=UTC)
    assert recounted[1:] == [START.replace(hour=0, minute=0) + i * DAY for i in range(5)]
    assert value_total("path") == 15 + 1
    assert_rollups_match_raw()


def test_a_backfill_in_slices_stops_after_a_day_and_goes_on_from_it(web_app):
    events_store(web_app.application.pk, pageviews(300, step=timedelta(minutes=31)))
    tracked = tracked_key_add(key="form.plan")

    slices = 1
    while not tracked_key_backfill(tracked_key_id=tracked.pk, seconds=0):
        slices += 1
        assert not TrackedKey.objects.get(pk=tracked.pk).is_ready

    # 300 events 31 minutes apart, from 22:10 on 2 March, touch 8 days: a slice each, and
    # one that finds none left.
    assert slices == 9
    assert TrackedKey.objects.get(pk=tracked.pk).is_ready
    assert value_total("form.plan") == 100
    assert_rollups_match_raw()


def test_the_backfill_task_queues_its_next_slice_behind_what_came_meanwhile(
    web_app, huey, monkeypatch
):
    import tasks.tasks
    from tasks.tasks import backfill_tracked_key

    events_store(web_app.application.pk, pageviews(100, step=timedelta(minutes=31)))
    tracked = tracked_key_add(key="path")
    huey.storage.flush_all()
    monkeypatch.setattr(tasks.tasks, "BACKFILL_SLICE_SECONDS", 0)

    backfill_tracked_key.call_local(tracked.pk)

    queued = [huey.deserialize_task(raw) for raw in huey.storage.enqueued_items()]
    assert [(t.name.rsplit(".", 1)[-1], t.args) for t in queued] == [
        ("backfill_tracked_key", (tracked.pk,))
    ]
    assert not TrackedKey.objects.get(pk=tracked.pk).is_ready
