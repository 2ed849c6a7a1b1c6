"""Tracked keys in the Admin area: staff add one (its backfill runs in the worker) and
remove one (its counts go); a bad key, a key tracked already and an eleventh key are
refused with a message; viewers get 403 and change nothing."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.html import escape

from events.models import AuditEntry, TrackedKey
from events.tracked_keys import MAX_TRACKED_KEYS
from tests.dashboard.support import NOW
from tests.insights.support import Stored, events_store

URL = reverse("dashboard:manage_tracked_keys")


def remove_url(tracked: TrackedKey) -> str:
    return reverse("dashboard:manage_tracked_key_remove", args=[tracked.pk])


def value_rows(key: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM event_value_counts_hour WHERE key = %s", [key])
        return cursor.fetchone()[0]


@pytest.fixture
def pageviews(store, web_app) -> None:
    events_store(
        web_app.application.pk,
        [
            Stored(
                str(uuid.uuid4()), NOW - timedelta(hours=i), "page", "view", {"path": f"/{i % 3}"}
            )
            for i in range(30)
        ],
    )


def test_it_tracks_a_key_and_backfills_it_in_the_worker(as_bob, bob, pageviews, drain):
    response = as_bob.post(URL, {"key": " path "}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    tracked = TrackedKey.objects.get()
    assert tracked.key == "path" and not tracked.is_ready
    assert "path is tracked." in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TRACKED_KEY_ADDED)
    assert (entry.actor, entry.target) == (bob, "path")

    assert drain() == 1

    tracked.refresh_from_db()
    assert tracked.is_ready
    assert value_rows("path") == 30
    row = as_bob.get(URL).content.decode().split('data-tracked-key="path"')[1].split("</tr>")[0]
    assert 'data-state="ready"' in row


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "Name the data key to track"),
        ("   ", "Name the data key to track"),
        ("form..plan", "Each part of a dotted key needs a name"),
        (".path", "Each part of a dotted key needs a name"),
        ("x" * 65, "at most 64 characters"),
        ("a\x00b", "Null characters are not allowed"),
    ],
)
def test_it_refuses_a_bad_key_with_a_message(as_bob, db, key, message):
    response = as_bob.post(URL, {"key": key})

    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert not TrackedKey.objects.exists()
    assert not AuditEntry.objects.exists()


def test_it_refuses_a_key_tracked_already(as_bob, db):
    TrackedKey.objects.create(key="path")

    response = as_bob.post(URL, {"key": "path"})

    assert response.status_code == 400
    assert "path is tracked already." in response.content.decode()
    assert TrackedKey.objects.count() == 1


def test_it_refuses_an_eleventh_key(as_bob, db):
    for i in range(MAX_TRACKED_KEYS):
        assert as_bob.post(URL, {"key": f"key{i}"}).status_code == 302

    response = as_bob.post(URL, {"key": "one.more"})

    assert response.status_code == 400
    html = response.content.decode()
    assert f"At most {MAX_TRACKED_KEYS} keys are tracked" in html
    assert "Remove one to track another." in html
    assert TrackedKey.objects.count() == MAX_TRACKED_KEYS
    assert not TrackedKey.objects.filter(key="one.more").exists()


def test_it_removes_a_key_and_its_counts(as_bob, bob, pageviews, drain):
    as_bob.post(URL, {"key": "path"})
    as_bob.post(URL, {"key": "other"})
    drain()
    path = TrackedKey.objects.get(key="path")
    assert value_rows("path") == 30

    confirm = as_bob.get(remove_url(path))
    response = as_bob.post(remove_url(path), follow=True)

    assert "Stop tracking path?" in confirm.content.decode()
    assert response.redirect_chain == [(URL, 302)]
    assert "path is no longer tracked" in response.content.decode()
    assert list(TrackedKey.objects.values_list("key", flat=True)) == ["other"]
    assert value_rows("path") == 0
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TRACKED_KEY_REMOVED)
    assert (entry.actor, entry.target) == (bob, "path")


def test_viewers_can_neither_add_nor_remove(as_alice, db):
    tracked = TrackedKey.objects.create(key="path")

    assert as_alice.get(URL).status_code == 403
    assert as_alice.post(URL, {"key": "plan"}).status_code == 403
    assert as_alice.post(remove_url(tracked)).status_code == 403
    assert list(TrackedKey.objects.values_list("key", flat=True)) == ["path"]
