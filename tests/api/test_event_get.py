"""GET /api/event/: filters, order, paging and errors, as the contract shows them."""

import base64
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from events.services import EventRow, event_bulk_create
from tests.support import SEED_EVENT

SESSION_A = "e2085be5-9137-4e4e-80b5-f1ffddc25423"
SESSION_B = "5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10"


def put(
    app,
    *,
    at: datetime,
    session: str = SESSION_A,
    category: str = "page interaction",
    name: str = "cta click",
    data: str = "{}",
    event_id: str | None = None,
) -> str:
    """Store one event directly: these tests are about reading."""
    event_id = event_id or str(uuid.uuid4())
    event_bulk_create(
        rows=[EventRow(event_id, at, session, category, name, data)],
        application_id=app.application.pk,
        received_at=datetime.now(UTC),
    )
    return event_id


def moment(day: int, hour: int = 12, minute: int = 0, microsecond: int = 0) -> datetime:
    return datetime(2021, 1, day, hour, minute, 0, microsecond, tzinfo=UTC)


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_it_returns_the_seed_example_field_for_field(api, web_app, drain):
    posted = api.post(SEED_EVENT, key=web_app.writer)
    assert posted.status_code == 202
    [event_id] = posted.json()["event_ids"]
    drain()

    response = api.get(key=web_app.reader)

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [
            {
                "session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
                "timestamp": "2021-01-01T09:15:27.243860Z",
                "category": "page interaction",
                "name": "cta click",
                "data": {"host": "www.xxxxx.com", "path": "/", "element": "chat bubble"},
                "event_id": event_id,
                "application": "web",
            }
        ],
    }


def test_it_gives_each_result_the_event_id_it_was_stored_with(api, web_app):
    chosen = str(uuid.uuid4())
    put(web_app, at=moment(1), event_id=chosen)
    twin = put(web_app, at=moment(1))  # same contents, same instant: only the id differs

    assert {r["event_id"] for r in results(api.get(key=web_app.reader))} == {chosen, twin}


def test_it_orders_newest_first(api, web_app):
    for day in (2, 5, 3):
        put(web_app, at=moment(day))

    stamps = [r["timestamp"] for r in results(api.get(key=web_app.reader))]

    assert stamps == [
        "2021-01-05T12:00:00.000000Z",
        "2021-01-03T12:00:00.000000Z",
        "2021-01-02T12:00:00.000000Z",
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"session_id": SESSION_B}, {"b-click"}),
        ({"session_id": SESSION_B.upper()}, {"b-click"}),
        ({"category": "form interaction"}, {"a-submit"}),
        ({"name": "cta click"}, {"a-click", "b-click"}),
        ({"category": "page interaction", "name": "pageview"}, {"a-view"}),
        ({"session_id": SESSION_A, "name": "cta click"}, {"a-click"}),
        ({"category": "nope"}, set()),
    ],
)
def test_it_filters_by_exact_match(api, web_app, params, expected):
    put(web_app, at=moment(1), name="pageview", data='{"tag": "a-view"}')
    put(web_app, at=moment(2), data='{"tag": "a-click"}')
    put(
        web_app,
        at=moment(3),
        category="form interaction",
        name="submit",
        data='{"tag": "a-submit"}',
    )
    put(web_app, at=moment(4), session=SESSION_B, data='{"tag": "b-click"}')

    response = api.get(params, key=web_app.reader)

    assert {r["data"]["tag"] for r in results(response)} == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({"timestamp_start": "2021-01-03"}, [5, 4, 3]),
        ({"timestamp_after": "2021-01-03"}, [5, 4, 3]),
        ({"timestamp_end": "2021-01-03"}, [3, 2, 1]),
        ({"timestamp_before": "2021-01-03"}, [3, 2, 1]),
        ({"timestamp_start": "2021-01-02", "timestamp_end": "2021-01-04"}, [4, 3, 2]),
        ({"timestamp_start": "2021-01-03T12:00:00Z"}, [5, 4, 3]),
        ({"timestamp_start": "2021-01-03 12:00:00.000001"}, [5, 4]),
        ({"timestamp_end": "2021-01-03T12:00:00Z"}, [3, 2, 1]),
        ({"timestamp_end": "2021-01-03T11:59:59.999999Z"}, [2, 1]),
        ({"timestamp_end": "2021-01-03T14:00:00+02:00"}, [3, 2, 1]),
        ({"timestamp_start": "2021-01-03", "timestamp_end": "2021-01-03"}, [3]),
    ],
)
def test_it_filters_by_time_range(api, web_app, params, days):
    for day in range(1, 6):
        put(web_app, at=moment(day), data=f'{{"day": {day}}}')

    assert [r["data"]["day"] for r in results(api.get(params, key=web_app.reader))] == days


def test_it_counts_a_bare_end_date_to_the_last_microsecond(api, web_app):
    put(web_app, at=datetime(2021, 1, 3, 23, 59, 59, 999999, tzinfo=UTC))
    put(web_app, at=datetime(2021, 1, 4, tzinfo=UTC))

    response = api.get({"timestamp_end": "2021-01-03"}, key=web_app.reader)

    assert [r["timestamp"] for r in results(response)] == ["2021-01-03T23:59:59.999999Z"]


def test_it_shows_only_the_keys_application(api, web_app, mobile_app):
    put(web_app, at=moment(1), name="web thing")
    put(mobile_app, at=moment(2), name="mobile thing")

    assert [r["name"] for r in results(api.get(key=web_app.reader))] == ["web thing"]
    assert [r["name"] for r in results(api.get(key=mobile_app.both))] == ["mobile thing"]


def test_it_pages_250_events_visiting_each_once_newest_first(api, web_app):
    start = moment(1)
    stored = {}
    for i in range(250):
        # Pairs of events share a timestamp, so that paging must break ties.
        at = start + timedelta(seconds=i // 2)
        stored[put(web_app, at=at, data=f'{{"i": {i}}}')] = at

    seen, url, pages = [], "/api/event/", 0
    params = {"limit": 10}
    while url:
        response = api.get(params, key=web_app.reader, url=url)
        body = response.json()
        assert body["count"] == 250
        seen.extend(r["data"]["i"] for r in results(response))
        url, params, pages = body["next"], None, pages + 1
        assert url is None or url.startswith("http://testserver/api/event/?")

    assert pages == 25
    assert sorted(seen) == list(range(250))
    assert len(seen) == len(set(seen))
    # Newest first: the timestamps never increase along the walk.
    stamps = [i // 2 for i in seen]
    assert stamps == sorted(stamps, reverse=True)


def test_it_walks_back_with_previous(api, web_app):
    for i in range(25):
        put(web_app, at=moment(1) + timedelta(seconds=i // 3), data=f'{{"i": {i}}}')
    first = api.get({"limit": 10}, key=web_app.reader).json()
    second = api.get(key=web_app.reader, url=first["next"]).json()
    third = api.get(key=web_app.reader, url=second["next"]).json()

    assert first["previous"] is None
    assert third["next"] is None
    assert len(third["results"]) == 5
    back_to_second = api.get(key=web_app.reader, url=third["previous"]).json()
    back_to_first = api.get(key=web_app.reader, url=back_to_second["previous"]).json()
    assert back_to_second["results"] == second["results"]
    assert back_to_first["results"] == first["results"]
    assert back_to_first["previous"] is None


def test_it_keeps_filters_in_the_page_links(api, web_app):
    for i in range(5):
        put(web_app, at=moment(1, minute=i), name="cta click")
        put(web_app, at=moment(1, minute=i), name="pageview")

    first = api.get({"name": "pageview", "limit": 2}, key=web_app.reader).json()
    rest = api.get(key=web_app.reader, url=first["next"]).json()

    assert "name=pageview" in first["next"]
    assert {r["name"] for r in rest["results"]} == {"pageview"}
    assert rest["count"] == 5


def test_it_defaults_to_pages_of_100(api, web_app):
    for i in range(101):
        put(web_app, at=moment(1) + timedelta(seconds=i))

    body = api.get(key=web_app.reader).json()

    assert len(body["results"]) == 100
    assert body["next"] is not None


def forged_cursor(instant: object, event_id: object = None) -> str:
    token = orjson.dumps([instant, str(uuid.uuid4()) if event_id is None else event_id, 0])
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def test_it_allows_pages_of_1000(api, web_app):
    put(web_app, at=moment(1))

    assert api.get({"limit": 1000}, key=web_app.reader).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"timestamp_start": "2021-13-01"}, "timestamp_start"),
        ({"timestamp_end": "yesterday"}, "timestamp_end"),
        ({"timestamp_after": "2021-01-01T25:00:00"}, "timestamp_after"),
        ({"timestamp_start": "2021-01-05", "timestamp_end": "2021-01-04"}, "timestamp_start"),
        ({"timestamp_start": "2021-01-05", "timestamp_after": "2021-01-06"}, "timestamp_after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        # Forged: an instant PostgreSQL cannot hold once in UTC, and one without an offset.
        ({"cursor": forged_cursor("9999-12-31T23:59:59.999999-23:59")}, "cursor"),
        ({"cursor": forged_cursor("2026-01-01T00:00:00")}, "cursor"),
        # Fields of the wrong type: an event id that is a number or a list, an instant that
        # is a number.
        ({"cursor": forged_cursor("2021-01-01T00:00:00+00:00", 123)}, "cursor"),
        ({"cursor": forged_cursor("2021-01-01T00:00:00+00:00", ["x"])}, "cursor"),
        ({"cursor": forged_cursor(20210101)}, "cursor"),
        ({"categroy": "page interaction"}, "categroy"),
        ({"category": "a\x00b"}, "category"),
        # Given twice: which one would be the filter?
        ({"category": ["page interaction", "form interaction"]}, "category"),
        ({"limit": ["10", "10"]}, "limit"),
    ],
)
def test_it_names_a_bad_parameter(api, web_app, params, field):
    response = api.get(params, key=web_app.reader)

    assert response.status_code == 422, response.content
    body = response.json()
    assert body["success"] is False
    assert field in [e["field"] for e in body["errors"]]


def test_it_refuses_a_missing_key(api, web_app):
    response = api.get()

    assert response.status_code == 401
    assert response.json()["success"] is False


def test_it_refuses_a_key_without_read_rights(api, web_app):
    response = api.get(key=web_app.writer)

    assert response.status_code == 403
    assert "read" in response.json()["errors"][0]["message"]


@pytest.fixture
def operator_key(web_app) -> str:
    from events.keys import api_key_create

    _, raw_key = api_key_create(
        application=web_app.application,
        can_read=True,
        can_write=True,
        can_read_all_applications=True,
    )
    return raw_key


def test_it_shows_every_application_to_a_key_with_that_right(
    api, web_app, mobile_app, operator_key
):
    put(web_app, at=moment(1), name="web thing")
    put(mobile_app, at=moment(2), name="mobile thing")

    response = api.get(key=operator_key)

    assert [r["name"] for r in results(response)] == ["mobile thing", "web thing"]
    assert response.json()["count"] == 2
    filtered = api.get({"name": "mobile thing", "timestamp_start": "2021-01-02"}, key=operator_key)
    assert [r["name"] for r in results(filtered)] == ["mobile thing"]
    assert filtered.json()["count"] == 1


def test_a_key_reading_every_application_picks_one_by_name(api, web_app, mobile_app, operator_key):
    put(web_app, at=moment(1), name="web thing")
    put(mobile_app, at=moment(2), name="mobile thing")

    everything = results(api.get(key=operator_key))
    mobile = api.get({"application": "mobile"}, key=operator_key)

    assert [(r["name"], r["application"]) for r in everything] == [
        ("mobile thing", "mobile"),
        ("web thing", "web"),
    ]
    assert [r["name"] for r in results(mobile)] == ["mobile thing"]
    assert mobile.json()["count"] == 1
    unknown = api.get({"application": "mobil"}, key=operator_key)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "application"


@pytest.mark.parametrize("name", ["mobile", "no such app"])
def test_a_key_of_one_application_reads_no_other_by_name(api, web_app, mobile_app, name):
    put(mobile_app, at=moment(2), name="mobile thing")

    response = api.get({"application": name}, key=web_app.reader)

    # Alike for an application that exists and one that does not: a key learns no names.
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "application"
    assert response.json()["errors"][0]["message"] == (
        "this key reads only its own application's events"
    )


def test_a_key_of_one_application_may_name_its_own(api, web_app, mobile_app):
    put(web_app, at=moment(1), name="web thing")
    put(mobile_app, at=moment(2), name="mobile thing")

    named = results(api.get({"application": "web"}, key=web_app.reader))

    assert [(r["name"], r["application"]) for r in named] == [("web thing", "web")]


def test_it_stores_what_a_key_reading_every_application_sends_in_its_own(
    api, web_app, mobile_app, operator_key, drain
):
    assert api.post(SEED_EVENT, key=operator_key).status_code == 202
    drain()

    assert len(results(api.get(key=web_app.reader))) == 1
    assert results(api.get(key=mobile_app.reader)) == []


def test_it_pages_every_application_s_events_alike_in_id_and_timestamp(
    api, web_app, mobile_app, operator_key
):
    # Two applications' copies of each of three events, all at one instant: six events,
    # which a key reading every application walks one by one, each once, and back.
    event_ids = [str(uuid.uuid4()) for _ in range(3)]
    for app in (web_app, mobile_app):
        for event_id in event_ids:
            put(app, at=moment(1), event_id=event_id)

    pages, url, params = [], "/api/event/", {"limit": 1}
    while url:
        body = api.get(params, key=operator_key, url=url).json()
        pages.append(body)
        url, params = body["next"], None
    seen = [(r["event_id"], r["application"]) for page in pages for r in page["results"]]

    assert len(seen) == 6
    assert set(seen) == {
        (e, app.application.name) for e in event_ids for app in (web_app, mobile_app)
    }
    walked_back, url = [], pages[-1]["previous"]
    while url:
        body = api.get(key=operator_key, url=url).json()
        walked_back += [(r["event_id"], r["application"]) for r in body["results"]]
        url = body["previous"]
    assert walked_back == seen[-2::-1]


def test_it_follows_a_cursor_issued_before_events_were_unique_per_application(api, web_app):
    # [timestamp, event_id, backwards]: what a client may hold across the upgrade.
    for minute in range(3):
        put(web_app, at=moment(1, minute=minute), data=f'{{"minute": {minute}}}')
    [newest] = results(api.get({"limit": 1}, key=web_app.reader))
    old_cursor = forged_cursor(moment(1, minute=2).isoformat(), newest["event_id"])

    rest = results(api.get({"cursor": old_cursor}, key=web_app.reader))

    assert [r["data"]["minute"] for r in rest] == [1, 0]


def test_a_connection_that_died_while_idle_is_reopened_rather_than_answered_503(
    api, web_app, store
):
    # A page skips Django's per-request health check and reopens a dead connection
    # itself: a database restart or a proxy's idle timeout must not fail the next read.
    from django.db import connection

    put(web_app, at=moment(1))
    assert len(results(api.get(key=web_app.reader))) == 1
    backend = connection.connection.info.backend_pid
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()

    page = api.get(key=web_app.reader)

    assert len(results(page)) == 1 and page.json()["count"] == 1
    assert connection.connection.info.backend_pid != backend


@pytest.mark.parametrize(
    "category", ["50% off", "%s", "%(category)s", "it's; SELECT 1", "'; DROP TABLE events; --"]
)
def test_a_filter_with_placeholders_or_quotes_matches_only_itself(api, web_app, category):
    # The page and its count are sent as one piece of SQL with their values quoted in it.
    put(web_app, at=moment(1), category=category, data='{"tag": "it"}')
    put(web_app, at=moment(2), category="other", data='{"tag": "other"}')

    response = api.get({"category": category}, key=web_app.reader)

    assert [r["data"]["tag"] for r in results(response)] == ["it"]
    assert response.json()["count"] == 1
    assert [r["data"]["tag"] for r in results(api.get(key=web_app.reader))] == ["other", "it"]


@pytest.mark.parametrize(
    "params",
    [
        {"timestamp_start": "9999-12-31T23:59:00Z"},
        {"timestamp_start": "9999-12-31T23:00:01Z", "category": "page interaction"},
        {"timestamp_end": "9999-12-31T23:59:59.999999Z"},
    ],
)
def test_it_counts_ranges_that_end_in_the_last_hour_of_9999(api, web_app, params):
    put(web_app, at=moment(1))

    response = api.get(params, key=web_app.reader)

    assert response.status_code == 200
    assert response.json()["count"] == (0 if "timestamp_start" in params else 1)


def test_a_key_s_rate_limit_counts_its_reads_too(api, web_app):
    # The limit is the key's requests a minute, whichever endpoint they go to.
    limited = web_app.issue(read=True, write=True, rate_limit=3)

    answers = [
        api.get(key=limited).status_code,
        api.post(SEED_EVENT, key=limited).status_code,
        api.get({"category": "x"}, key=limited).status_code,
        api.get(key=limited).status_code,
    ]
    trend = api.get(
        {
            "category": "x",
            "start": "2021-01-01T00:00:00Z",
            "end": "2021-01-02T00:00:00Z",
            "interval": "day",
        },
        key=limited,
        url="/api/insights/trend/",
    )

    assert answers == [200, 202, 200, 429]
    assert trend.status_code == 429
    assert 1 <= int(trend["Retry-After"]) <= 61
    assert api.get(key=web_app.reader).status_code == 200


def test_a_read_is_counted_and_its_rights_checked_before_its_parameters(api, web_app):
    # A 422 for a bad parameter was a way around the rate limit, and told a key without
    # read rights about the parameters of a read.
    limited = web_app.issue(read=True, write=True, rate_limit=3)
    trend = "/api/insights/trend/"

    bad = [api.get({"limit": "0"}, key=limited).status_code for _ in range(3)]
    bad.append(api.get({"limit": "0"}, key=limited).status_code)
    bad.append(api.get({"x": "1"}, key=limited, url=trend).status_code)
    unentitled = [
        api.get({"limit": "0"}, key=web_app.writer).status_code,
        api.get({"x": "1"}, key=web_app.writer, url=trend).status_code,
    ]

    assert bad == [422, 422, 422, 429, 429]
    assert unentitled == [403, 403]
