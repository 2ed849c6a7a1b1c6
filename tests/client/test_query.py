"""query(): filters, newest first, and every page through the `next` links."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from eye_client import EyeHTTPError

from tests.client.support import SESSION, Answer, FaultyProxy, put_events

OTHER_SESSION = "5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10"
START = datetime(2021, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def twenty_three(web_app, store) -> list[str]:
    """23 events a minute apart; names in time order."""
    names = [f"event {i:02}" for i in range(23)]
    put_events(
        web_app,
        [
            {
                "name": name,
                "timestamp": START + timedelta(minutes=i),
                "category": "odd" if i % 2 else "even",
                "session_id": OTHER_SESSION if i >= 20 else SESSION,
                "data": {"i": i},
            }
            for i, name in enumerate(names)
        ],
    )
    return names


def test_it_follows_next_across_pages(proxy, make_eye, web_app, twenty_three):
    eye = make_eye(proxy.url, web_app.reader)

    events = list(eye.query(page_size=5))

    assert [e["name"] for e in events] == twenty_three[::-1]
    from events.models import Event

    stored = Event.objects.get(name="event 22")
    assert events[0] == {
        "session_id": OTHER_SESSION,
        "timestamp": "2021-01-01T09:22:00.000000Z",
        "category": "even",
        "name": "event 22",
        "data": {"i": 22},
        "event_id": str(stored.event_id),
        "application": "web",
    }
    gets = proxy.requests("GET")
    assert len(gets) == 5
    assert all("cursor=" in s.path for s in gets[1:])


def test_it_passes_each_filter_to_the_eye(eye_url, make_eye, web_app, twenty_three):
    eye = make_eye(eye_url, web_app.reader)

    def names(**filters) -> list[str]:
        return [e["name"] for e in eye.query(**filters)]

    assert names(session_id=OTHER_SESSION) == ["event 22", "event 21", "event 20"]
    assert names(category="odd", session_id=SESSION)[:2] == ["event 19", "event 17"]
    assert names(name="event 07") == ["event 07"]
    assert names(
        timestamp_start=START + timedelta(minutes=3), timestamp_end="2021-01-01T09:05:00Z"
    ) == ["event 05", "event 04", "event 03"]
    assert len(names(timestamp_start="2021-01-01", timestamp_end="2021-01-01")) == 23


def test_it_reads_one_application_with_a_key_that_reads_every_one(
    eye_url, make_eye, web_app, mobile_app, twenty_three
):
    from events.keys import api_key_create

    put_events(mobile_app, [{"name": "mobile thing", "timestamp": START}])
    _, operator_key = api_key_create(
        application=web_app.application,
        can_read=True,
        can_write=False,
        can_read_all_applications=True,
    )
    eye = make_eye(eye_url, operator_key)

    mobile = list(eye.query(application="mobile"))

    assert [(e["name"], e["application"]) for e in mobile] == [("mobile thing", "mobile")]
    assert len(list(eye.query(application="web"))) == 23
    assert len(list(eye.query())) == 24


def test_it_stops_at_the_limit_without_reading_further_pages(
    proxy, make_eye, web_app, twenty_three
):
    eye = make_eye(proxy.url, web_app.reader)

    events = list(eye.query(limit=7, page_size=5))

    assert [e["name"] for e in events] == twenty_three[::-1][:7]
    assert len(proxy.requests("GET")) == 2


def test_it_gives_the_count_of_all_pages(eye_url, make_eye, web_app, twenty_three):
    page = next(make_eye(eye_url, web_app.reader).pages(category="odd", page_size=2))

    assert (page.count, len(page.results)) == (11, 2)
    assert page.next is not None and page.previous is None


def test_it_raises_the_eyes_message_for_a_bad_filter(eye_url, make_eye, web_app):
    eye = make_eye(eye_url, web_app.reader)

    with pytest.raises(EyeHTTPError) as raised:
        list(eye.query(session_id="not-a-session"))

    assert raised.value.status == 422
    assert raised.value.errors[0]["field"] == "session_id"
    assert "session_id" in str(raised.value)


def test_it_raises_for_a_key_without_read_rights(eye_url, make_eye, web_app):
    with pytest.raises(EyeHTTPError) as raised:
        list(make_eye(eye_url, web_app.writer).query())

    assert raised.value.status == 403


def test_it_retries_a_query_after_a_503(proxy, make_eye, web_app, twenty_three):
    proxy.rule = lambda seen: Answer(503, {"Retry-After": "0"}) if seen.number == 1 else None

    events = list(make_eye(proxy.url, web_app.reader).query())

    assert len(events) == 23
    assert [s.status for s in proxy.requests("GET")] == [503, 200]


def test_it_sends_the_key_only_to_the_address_it_was_given(
    live_server, make_eye, web_app, twenty_three
):
    # This proxy tells the Eye its own address, so the `next` links point past the proxy;
    # the client follows their path and cursor on the proxy's address instead.
    proxy = FaultyProxy(live_server.thread.port, rewrite_host=True)
    proxy.start()
    try:
        events = list(make_eye(proxy.url, web_app.reader).query(page_size=10))
    finally:
        proxy.stop()

    assert len(events) == 23
    gets = proxy.requests("GET")
    assert len(gets) == 3
    link = json.loads(gets[0].answer)["next"]
    assert link.startswith(f"http://127.0.0.1:{live_server.thread.port}/api/event/?")


def test_it_checks_its_arguments_when_called(eye_url, make_eye, web_app):
    eye = make_eye(eye_url, web_app.reader)

    with pytest.raises(ValueError):
        eye.query(page_size=1001)
    with pytest.raises(ValueError):
        eye.query(page_size=0, limit=10)
    with pytest.raises(ValueError):
        eye.query(limit=-1)
