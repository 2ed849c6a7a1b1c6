"""The store_events task: one statement per batch, exactly once, nothing dropped."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection

from events.models import DeadLetter
from tasks.tasks import RETRY_MAX_SECONDS, retry_delay, store_events
from tests.support import SEED_EVENT, stored_events


def rows(count: int, *, data: str = '{"k": 1}') -> list[tuple]:
    at = datetime(2021, 1, 1, 9, tzinfo=UTC)
    return [
        (str(uuid.uuid4()), at, SEED_EVENT["session_id"], "page interaction", f"n{i}", data)
        for i in range(count)
    ]


def enqueue(batch: list[tuple], app, request_id: str = "req") -> None:
    store_events(batch, app.application.pk, datetime.now(UTC), request_id)


def test_it_stores_a_batch(web_app, drain):
    enqueue(rows(5), web_app)

    assert drain() == 1
    assert len(stored_events()) == 5


def test_it_stores_a_task_run_twice_only_once(web_app, huey, drain):
    enqueue(rows(5), web_app)
    [raw] = huey.storage.enqueued_items()
    # The same message delivered twice, as at-least-once delivery may do.
    huey.storage.enqueue(raw)

    drain()
    assert len(stored_events()) == 5
    assert huey.pending_count() == 0


def test_it_stores_the_same_event_id_posted_twice_once(api, web_app, drain):
    event = {**SEED_EVENT, "event_id": "6f1c2b1e-4a56-4c1e-9b1a-0f7a3a5e9d21"}

    assert api.post(event, key=web_app.writer).status_code == 202
    assert api.post([event, event], key=web_app.writer).status_code == 202
    drain()

    [stored] = stored_events()
    assert str(stored["event_id"]) == event["event_id"]


def test_an_event_id_is_the_key_of_its_application_only(api, web_app, mobile_app, drain):
    # The same event sent to two applications (mirrored to a staging app, say): each
    # stores it once, and neither's copy stops the other's.
    event = {**SEED_EVENT, "event_id": "6f1c2b1e-4a56-4c1e-9b1a-0f7a3a5e9d21"}

    for key in (web_app.writer, mobile_app.writer, web_app.writer, mobile_app.writer):
        assert api.post(event, key=key).status_code == 202
    drain()

    stored = stored_events(event_id=event["event_id"])
    assert sorted(e["application_id"] for e in stored) == sorted(
        [web_app.application.pk, mobile_app.application.pk]
    )


def test_it_sets_aside_a_row_the_database_refuses_and_stores_the_rest(web_app, drain):
    batch = rows(7)
    # Past the API's checks (a task enqueued directly): jsonb refuses a NUL escape.
    batch[4] = (*batch[4][:5], '{"note": "a\\u0000b"}')
    enqueue(batch, web_app, request_id="req-poison")

    drain()

    assert sorted(e["name"] for e in stored_events()) == ["n0", "n1", "n2", "n3", "n5", "n6"]
    [letter] = DeadLetter.objects.all()
    assert letter.request_id == "req-poison"
    assert letter.application_id == web_app.application.pk
    assert [row["name"] for row in letter.rows] == ["n4"]
    assert "unicode" in letter.reason.lower() or "\\u0000" in letter.reason


def test_it_retries_later_when_the_database_is_unreachable(web_app, huey, store):
    enqueue(rows(3), web_app)
    task = huey.dequeue()
    settings_dict = connection.settings_dict
    original_port = settings_dict["PORT"]
    connection.close()
    # A real connection failure: nothing listens on port 1.
    settings_dict["PORT"] = "1"
    try:
        huey.execute(task)
    finally:
        connection.close()
        settings_dict["PORT"] = original_port

    assert stored_events() == []
    # Back in the queue with an eta: the consumer holds it until then.
    [retry] = huey.pending()
    assert retry.args[0] == task.args[0]
    assert retry.args[4] == 1  # the attempt number, which sets the next delay
    assert retry.eta > datetime.now(UTC).replace(tzinfo=None)
    # When its time comes, the events are stored.
    retry.eta = None
    huey.execute(retry)
    assert len(stored_events()) == 3


@pytest.mark.parametrize(
    ("attempt", "seconds"), [(0, 0.5), (1, 1.0), (4, 8.0), (20, RETRY_MAX_SECONDS)]
)
def test_it_backs_off_exponentially_up_to_a_minute(attempt, seconds):
    assert retry_delay(attempt) == seconds
