"""POST /api/event/, row by row of the contract."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from tests.support import SEED_EVENT, queue_moved_to, stored_events


def event(**overrides) -> dict:
    return {**SEED_EVENT, **overrides}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def store_tasks(huey) -> list:
    """The store tasks waiting in the real queue (refusal log entries aside)."""
    tasks = [huey.deserialize_task(raw) for raw in huey.storage.enqueued_items()]
    return [task for task in tasks if task.name.endswith("store_events")]


def queued_rows(huey) -> list[tuple]:
    """The rows of every store task waiting in the real queue."""
    return [row for task in store_tasks(huey) for row in task.args[0]]


# --- 202 ------------------------------------------------------------------------------


def test_it_accepts_the_seed_event_and_queues_it(api, web_app, huey):
    response = api.post(SEED_EVENT, key=web_app.writer)

    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True
    assert body["accepted"] == 1
    assert len(body["event_ids"]) == 1
    rows = queued_rows(huey)
    assert len(rows) == 1
    event_id, timestamp, session_id, category, name, data_json = rows[0]
    assert event_id == body["event_ids"][0]
    assert timestamp == datetime(2021, 1, 1, 9, 15, 27, 243860, tzinfo=UTC)
    assert session_id == SEED_EVENT["session_id"]
    assert (category, name) == ("page interaction", "cta click")
    assert orjson.loads(data_json) == SEED_EVENT["data"]


def test_a_post_without_its_slash_is_sent_on_as_a_post(live_server, web_app, huey):
    # Django's 301 for the missing slash made redirect-following clients send it again
    # as a GET, which answered a page of events and dropped the body.
    with httpx.Client(base_url=live_server.url, follow_redirects=True) as client:
        response = client.post(
            "/api/event?sent_at=2021-01-01T09:15:27Z",
            json=SEED_EVENT,
            headers={"Authorization": f"Bearer {web_app.writer}"},
        )

    assert response.status_code == 202, response.text
    [moved] = response.history
    assert moved.status_code == 308
    assert moved.headers["Location"] == "/api/event/?sent_at=2021-01-01T09:15:27Z"
    assert moved.json()["errors"] == [{"message": "the address ends with a slash: /api/event/"}]
    assert [row[4] for row in queued_rows(huey)] == [SEED_EVENT["name"]]


def test_it_queues_a_batch_as_one_task(api, web_app, huey):
    batch = [event(name=f"step {i}") for i in range(3)]

    response = api.post(batch, key=web_app.writer)

    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    assert len(store_tasks(huey)) == 1
    assert [row[4] for row in queued_rows(huey)] == ["step 0", "step 1", "step 2"]


def test_it_stores_the_seed_event_end_to_end(api, web_app, drain):
    response = api.post(SEED_EVENT, key=web_app.writer)
    assert drain() == 1

    [stored] = stored_events()
    assert str(stored["event_id"]) == response.json()["event_ids"][0]
    assert stored["application_id"] == web_app.application.pk
    assert stored["data"] == SEED_EVENT["data"]
    assert stored["received_at"] is not None


def test_it_keeps_a_client_chosen_event_id(api, web_app, huey):
    chosen = "0b3f4ad2-8a3e-4c43-9d0f-0d9b3b0a7c11"

    response = api.post(event(event_id=chosen.upper()), key=web_app.writer)

    assert response.json()["event_ids"] == [chosen]
    assert queued_rows(huey)[0][0] == chosen


@pytest.mark.parametrize(
    "spelling",
    [
        "E2085BE5-9137-4E4E-80B5-F1FFDDC25423",
        "e2085be591374e4e80b5f1ffddc25423",
        "{e2085be5-9137-4e4e-80b5-f1ffddc25423}",
        "urn:uuid:e2085be5-9137-4e4e-80b5-f1ffddc25423",
    ],
)
def test_it_stores_session_ids_in_canonical_form(api, web_app, huey, spelling):
    response = api.post(event(session_id=spelling), key=web_app.writer)

    assert response.status_code == 202
    assert queued_rows(huey)[0][2] == "e2085be5-9137-4e4e-80b5-f1ffddc25423"


def test_it_trims_category_and_name(api, web_app, huey):
    api.post(event(category="  page interaction ", name="\tcta click\n"), key=web_app.writer)

    assert queued_rows(huey)[0][3:5] == ("page interaction", "cta click")


def test_it_accepts_255_characters_after_trimming(api, web_app):
    response = api.post(event(name=" " + "n" * 255 + " "), key=web_app.writer)

    assert response.status_code == 202


def test_it_defaults_data_to_an_empty_object(api, web_app, huey):
    body = event()
    del body["data"]

    assert api.post(body, key=web_app.writer).status_code == 202
    assert queued_rows(huey)[0][5] == "{}"


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("2021-01-01 09:15:27.243860", datetime(2021, 1, 1, 9, 15, 27, 243860, tzinfo=UTC)),
        ("2021-01-01T09:15:27.243860", datetime(2021, 1, 1, 9, 15, 27, 243860, tzinfo=UTC)),
        ("2021-01-01T09:15:27Z", datetime(2021, 1, 1, 9, 15, 27, tzinfo=UTC)),
        ("2021-01-01T09:15:27.5+02:00", datetime(2021, 1, 1, 7, 15, 27, 500000, tzinfo=UTC)),
        ("2021-01-01 09:15-05:30", datetime(2021, 1, 1, 14, 45, tzinfo=UTC)),
        ("2021-01-01T00:30:00+14:00", datetime(2020, 12, 31, 10, 30, tzinfo=UTC)),
    ],
)
def test_it_reads_iso_8601_timestamps_as_utc(api, web_app, huey, spelling, expected):
    response = api.post(event(timestamp=spelling), key=web_app.writer)

    assert response.status_code == 202, response.json()
    assert queued_rows(huey)[0][1] == expected


def test_it_accepts_a_timestamp_within_the_future_allowance(api, web_app):
    soon = datetime.now(UTC) + timedelta(minutes=4)

    assert api.post(event(timestamp=iso(soon)), key=web_app.writer).status_code == 202


# --- 400 ------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2", b'{"a": 1} trailing'])
def test_it_refuses_a_body_that_is_not_json(api, web_app, huey, raw):
    response = api.post(None, key=web_app.writer, raw=raw)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["errors"][0]["message"]
    assert len(store_tasks(huey)) == 0


@pytest.mark.parametrize("raw", [b"3", b'"event"', b"null", b"true"])
def test_it_refuses_json_that_is_not_an_object_or_array(api, web_app, huey, raw):
    response = api.post(None, key=web_app.writer, raw=raw)

    assert response.status_code == 400
    assert "object" in response.json()["errors"][0]["message"]
    assert len(store_tasks(huey)) == 0


# --- 401 / 403 ------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "eye_not-a-real-key", ""])
def test_it_refuses_a_missing_or_unknown_key(api, web_app, huey, key):
    response = api.post(SEED_EVENT, key=key)

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["errors"][0]["field"] == "Authorization"
    assert len(store_tasks(huey)) == 0


def test_it_refuses_a_revoked_key(api, web_app, huey):
    from events.keys import api_key_revoke

    api_key_revoke(api_key=web_app.stored(web_app.writer))

    assert api.post(SEED_EVENT, key=web_app.writer).status_code == 401
    assert len(store_tasks(huey)) == 0


def test_it_refuses_a_key_without_write_rights(api, web_app, huey):
    response = api.post(SEED_EVENT, key=web_app.reader)

    assert response.status_code == 403
    assert response.json()["success"] is False
    assert "write" in response.json()["errors"][0]["message"]
    assert len(store_tasks(huey)) == 0


# --- 413 ------------------------------------------------------------------------------


def test_it_refuses_a_body_over_the_size_limit(api, web_app, huey, settings):
    settings.EYE_MAX_BODY_BYTES = 2048
    batch = [event(data={"blob": "x" * 500}) for _ in range(5)]

    response = api.post(batch, key=web_app.writer)

    assert response.status_code == 413
    assert response.json()["success"] is False
    assert "2048" in response.json()["errors"][0]["message"]
    assert len(store_tasks(huey)) == 0


def test_it_refuses_the_default_limit_of_one_mebibyte(api, web_app, huey):
    batch = [event(data={"blob": "x" * 60_000}) for _ in range(18)]

    assert api.post(batch, key=web_app.writer).status_code == 413
    assert len(store_tasks(huey)) == 0


def test_it_refuses_more_than_1000_events(api, web_app, huey):
    small = {k: v for k, v in SEED_EVENT.items() if k != "data"}

    response = api.post([small] * 1001, key=web_app.writer)

    assert response.status_code == 413
    assert "1001" in response.json()["errors"][0]["message"]
    assert len(store_tasks(huey)) == 0


def test_it_accepts_exactly_1000_events(api, web_app, huey):
    small = {k: v for k, v in SEED_EVENT.items() if k != "data"}

    response = api.post([small] * 1000, key=web_app.writer)

    assert response.status_code == 202
    assert len(queued_rows(huey)) == 1000


# --- 422 ------------------------------------------------------------------------------


def errors_of(response) -> list[dict]:
    assert response.status_code == 422, response.content
    assert response.json()["success"] is False
    return response.json()["errors"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"session_id": 12}, "session_id"),
        ({"session_id": None}, "session_id"),
        ({"category": ""}, "category"),
        ({"category": "   "}, "category"),
        ({"name": "n" * 256}, "name"),
        ({"name": 5}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"data": [1, 2]}, "data"),
        ({"data": "text"}, "data"),
        ({"data": {"note": "a\x00b"}}, "data.note"),
        ({"timestamp": "01/01/2021 09:15"}, "timestamp"),
        ({"timestamp": "2021-02-30 09:15:27"}, "timestamp"),
        ({"timestamp": 1609492527}, "timestamp"),
        ({"timestamp": "2021-01-01T09:15:27.1234567"}, "timestamp"),
        ({"event_id": "nope"}, "event_id"),
        ({"color": "red"}, "color"),
    ],
)
def test_it_names_the_field_of_a_bad_event(api, web_app, huey, overrides, field):
    [error] = errors_of(api.post(event(**overrides), key=web_app.writer))

    assert error["field"] == field
    assert error["message"]
    assert "index" not in error
    assert len(store_tasks(huey)) == 0


@pytest.mark.parametrize("field", ["session_id", "category", "name", "timestamp"])
def test_it_requires_each_required_field(api, web_app, field):
    body = event()
    del body[field]

    [error] = errors_of(api.post(body, key=web_app.writer))

    assert error == {"field": field, "message": "is required"}


def test_it_refuses_data_over_64_kib(api, web_app):
    [error] = errors_of(api.post(event(data={"blob": "x" * 65_536}), key=web_app.writer))

    assert error["field"] == "data"
    assert "65536" in error["message"]


def test_it_refuses_a_timestamp_too_far_in_the_future(api, web_app):
    later = datetime.now(UTC) + timedelta(minutes=6)

    [error] = errors_of(api.post(event(timestamp=iso(later)), key=web_app.writer))

    assert error["field"] == "timestamp"
    assert "future" in error["message"]


def test_it_takes_the_future_allowance_from_settings(api, web_app, settings):
    settings.EYE_MAX_FUTURE_SECONDS = 3600
    later = datetime.now(UTC) + timedelta(minutes=30)

    assert api.post(event(timestamp=iso(later)), key=web_app.writer).status_code == 202


def test_it_refuses_a_whole_batch_for_one_bad_event_and_names_its_index(api, web_app, drain):
    batch = [event(name=f"step {i}") for i in range(6)]
    batch[3]["timestamp"] = "yesterday"

    errors = errors_of(api.post(batch, key=web_app.writer))

    assert errors == [{"index": 3, "field": "timestamp", "message": errors[0]["message"]}]
    drain()
    assert stored_events() == []


def test_it_lists_every_bad_event_of_a_batch(api, web_app):
    batch = [event(), event(category=""), event(), event(session_id="x", data=[])]

    errors = errors_of(api.post(batch, key=web_app.writer))

    assert {(e["index"], e["field"]) for e in errors} == {
        (1, "category"),
        (3, "session_id"),
        (3, "data"),
    }


def test_it_refuses_an_empty_batch(api, web_app, huey):
    [error] = errors_of(api.post([], key=web_app.writer))

    assert "empty" in error["message"]


def test_it_refuses_a_batch_item_that_is_not_an_object(api, web_app):
    errors = errors_of(api.post([event(), "oops", 3, None, [event()]], key=web_app.writer))

    # In the API's words, not pydantic's ("a valid dictionary or instance of EventIn").
    assert errors == [
        {"index": i, "field": None, "message": "must be an event object"} for i in (1, 2, 3, 4)
    ]


# --- 429 ------------------------------------------------------------------------------


def test_it_limits_the_rate_of_a_key(api, web_app, huey):
    limited = web_app.issue(read=False, write=True, rate_limit=3)

    answers = [api.post(SEED_EVENT, key=limited).status_code for _ in range(4)]

    assert answers == [202, 202, 202, 429]
    refused = api.post(SEED_EVENT, key=limited)
    assert refused.json()["success"] is False
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert len(store_tasks(huey)) == 3
    # Other keys are not affected by this key's limit.
    assert api.post(SEED_EVENT, key=web_app.writer).status_code == 202


# --- 503 ------------------------------------------------------------------------------


@pytest.fixture
def queue_unreachable(huey):
    """Point the queue at a port where no Redis listens: a real refused connection."""
    with queue_moved_to(huey, "redis://127.0.0.1:1/0"):
        yield


def test_it_answers_503_when_the_queue_cannot_take_events(api, web_app, huey, queue_unreachable):
    response = api.post(SEED_EVENT, key=web_app.writer)

    assert response.status_code == 503
    assert response.json()["success"] is False


def test_it_accepts_again_once_the_queue_is_back(api, web_app, huey):
    assert api.post(SEED_EVENT, key=web_app.writer).status_code == 202
    assert len(store_tasks(huey)) == 1


# --- request id -----------------------------------------------------------------------


def test_it_passes_the_request_id_to_the_worker(api, web_app, huey):
    response = api.post(SEED_EVENT, key=web_app.writer, headers={"X-Request-ID": "req-12345678"})

    assert response["X-Request-ID"] == "req-12345678"
    [task] = store_tasks(huey)
    assert task.args[3] == "req-12345678"


def test_it_gives_each_event_its_own_server_id(api, web_app):
    ids = api.post([event(), event()], key=web_app.writer).json()["event_ids"]

    assert len({uuid.UUID(i) for i in ids}) == 2


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("2021-02-30 09:15:27", "day is out of range for month"),
        ("2021-01-01T09:15:27+24:00", "the UTC offset must be less than 24 hours either way"),
    ],
)
def test_it_says_why_a_timestamp_is_not_a_real_one(api, web_app, timestamp, reason):
    [error] = errors_of(api.post(event(timestamp=timestamp), key=web_app.writer))

    assert error == {"field": "timestamp", "message": f"is not a real date and time: {reason}"}


def test_an_event_with_thousands_of_faults_gets_a_short_answer(api, web_app, huey):
    # 5,000 unknown fields, each a fault of its own, one of them named by a long key.
    body = event(**{f"extra_{i}": i for i in range(5000)}, **{"k" * 100_000: 1})

    response = api.post(body, key=web_app.writer)

    errors = errors_of(response)
    assert len(response.content) < 5_000
    assert len(errors) == 11
    assert all(
        e["message"] == "is not a known field; put custom values inside data" for e in errors[:10]
    )
    assert errors[-1]["message"].startswith("4,991 more errors not listed")
    assert "field" not in errors[-1]
    assert len(store_tasks(huey)) == 0


def test_a_batch_of_faulty_events_names_each_of_them(api, web_app, huey):
    # 3,000 faults, three an event: past 1,000 in all, each event's first is listed.
    body = [event(color=1, size=2, shape=3) for _ in range(1000)]

    errors = errors_of(api.post(body, key=web_app.writer))

    assert [e["index"] for e in errors[:-1]] == list(range(1000))
    assert errors[-1]["message"].startswith("2,000 more errors not listed")


def test_a_field_named_after_a_long_key_is_cut(api, web_app):
    [error] = errors_of(api.post(event(**{"k" * 100_000: 1}), key=web_app.writer))

    assert error["field"] == "k" * 199 + "…"
