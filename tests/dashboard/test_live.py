"""Live: the events that arrived last, in arrival order, and a rows endpoint that returns
what arrived since (and the few seconds before, which the page skips)."""

import base64
import json
import uuid
from datetime import timedelta

import orjson
from django.urls import reverse

from dashboard.views.live import Position
from events.services import EventRow, event_bulk_create
from tests.dashboard.support import NOW, SESSION_A, SESSION_B

URL = reverse("dashboard:live")
ROWS = reverse("dashboard:live_rows")


def test_it_shows_the_newest_events_and_where_to_poll(as_alice, put, web_app):
    older = put(web_app, NOW - timedelta(minutes=2))
    newest = put(web_app, NOW - timedelta(minutes=1), name="cta click")

    response = as_alice.get(URL)

    assert [e.event_id for e in response.context["rows"]] == [newest, older]
    position = Position.decode(response.context["newest"])
    # Put stores an event a second after its timestamp: the position is its arrival.
    assert (position.received_at, position.event_id) == (NOW - timedelta(seconds=59), newest)
    assert position.window == 1
    page = response.content.decode()
    assert f'data-live-source="{ROWS}"' in page
    assert 'data-live-interval="2"' in page
    assert "live.js" in page
    assert "data-live-toggle" in page and ">Pause<" in page


def test_it_returns_only_rows_newer_than_the_newest_shown(as_alice, put, web_app):
    put(web_app, NOW - timedelta(minutes=3))
    shown = as_alice.get(URL).context["newest"]
    first = put(web_app, NOW - timedelta(minutes=2), name="first")
    second = put(web_app, NOW - timedelta(minutes=1), name="second")

    response = as_alice.get(ROWS, {"after": shown})

    assert response.status_code == 200
    assert [e.event_id for e in response.context["rows"]] == [second, first]
    body = response.content.decode()
    assert body.count('<tr class="event-row"') == 2
    assert "<html" not in body
    assert Position.decode(response["X-Eye-Newest"]).event_id == second

    again = as_alice.get(ROWS, {"after": response["X-Eye-Newest"]})

    assert again.context["rows"] == []
    assert again["X-Eye-Newest"] == response["X-Eye-Newest"]


def test_it_applies_the_same_filters_as_explore(as_alice, put, web_app, mobile_app):
    shown = as_alice.get(URL, {"app": "mobile"}).context["newest"]
    put(web_app, NOW - timedelta(minutes=1))
    wanted = put(mobile_app, NOW - timedelta(seconds=30), session=SESSION_B, data={"path": "/x"})

    for params in (
        {"app": "mobile"},
        {"session": str(SESSION_B)},
        {"key": "path", "value": "/x"},
    ):
        response = as_alice.get(ROWS, {**params, "after": shown})
        assert [e.event_id for e in response.context["rows"]] == [wanted], params


def test_it_says_when_more_arrived_than_it_shows(as_alice, put, web_app, monkeypatch):
    monkeypatch.setattr("dashboard.views.live.POLL_ROWS", 2)
    for i in range(3):
        put(web_app, NOW - timedelta(seconds=i + 1))

    response = as_alice.get(ROWS)

    assert len(response.context["rows"]) == 2
    assert "More events arrived than are shown here" in response.content.decode()


def test_it_links_rows_back_to_the_live_page_filters(as_alice, put, web_app):
    put(web_app, NOW - timedelta(seconds=5), name="cta click")

    body = as_alice.get(ROWS, {"app": "web", "after": ""}).content.decode()

    # Relative links that keep the page's filters and drop the poll's cursor.
    assert 'href="?app=web&amp;category=page+interaction&amp;name=cta+click"' in body


def test_it_refuses_a_broken_cursor_or_filter(as_alice, db):
    assert as_alice.get(ROWS, {"after": "garbage"}).status_code == 400
    # Forged positions: an instant off the calendar once in UTC, and one without an offset.
    # And fields of the wrong type: an event id that is a number, an instant that is one.
    for instant, event_id in (
        ("9999-12-31T23:59:59.999999-23:59", str(uuid.uuid4())),
        ("2026-01-01T00:00:00", str(uuid.uuid4())),
        ("2026-01-01T00:00:00+00:00", 123),
        (20260101, str(uuid.uuid4())),
    ):
        token = orjson.dumps([instant, event_id, 0])
        forged = base64.urlsafe_b64encode(token).decode().rstrip("=")
        assert as_alice.get(ROWS, {"after": forged}).status_code == 400
    assert as_alice.get(ROWS, {"session": "garbage"}).status_code == 400


def test_it_never_caches_the_rows(as_alice, db):
    assert as_alice.get(ROWS)["Cache-Control"] == "no-store"


def arrive(app, *, at, received_at, name: str) -> uuid.UUID:
    """Store an event whose own timestamp is `at`, as having reached the API at `received_at`."""
    event_id = uuid.uuid4()
    event_bulk_create(
        rows=[
            EventRow(str(event_id), at, str(SESSION_A), "page interaction", name, json.dumps({}))
        ],
        application_id=app.application.pk,
        received_at=received_at,
    )
    return event_id


def test_it_orders_by_arrival_and_shows_an_event_sent_three_hours_late(as_alice, web_app):
    on_time = arrive(
        web_app,
        at=NOW - timedelta(minutes=1),
        received_at=NOW - timedelta(seconds=59),
        name="on time",
    )
    shown = as_alice.get(URL).context["newest"]
    late = arrive(web_app, at=NOW - timedelta(hours=3), received_at=NOW, name="three hours late")

    page = as_alice.get(URL)
    polled = as_alice.get(ROWS, {"after": shown})

    assert [e.event_id for e in page.context["rows"]] == [late, on_time]
    assert [e.event_id for e in polled.context["rows"]] == [late]
    assert Position.decode(polled["X-Eye-Newest"]).event_id == late
    html = page.content.decode()
    assert "Arrived (UTC)" in html and "Event time (UTC)" in html
    # Both instants stand in the late event's row: when it arrived, and its own time.
    row = html[html.index(f'data-event-id="{late}"') :].split("</tr>")[0]
    assert "2026-03-18 14:25:30" in row and "2026-03-18 11:25:30" in row


def test_it_sends_rows_stored_late_just_behind_the_newest_shown(as_alice, web_app):
    newest = arrive(web_app, at=NOW, received_at=NOW, name="stored first")
    shown = as_alice.get(URL).context["newest"]
    quiet = as_alice.get(ROWS, {"after": shown})
    assert quiet.context["rows"] == []
    # Arrived just before the newest shown, but stored after it (by another worker).
    behind = arrive(web_app, at=NOW, received_at=NOW - timedelta(seconds=2), name="stored second")
    too_old = arrive(web_app, at=NOW, received_at=NOW - timedelta(minutes=1), name="long before")

    polled = as_alice.get(ROWS, {"after": shown})

    # Its window is sent again, the newest shown with it (the page skips that one).
    ids = [e.event_id for e in polled.context["rows"]]
    assert ids == [newest, behind]
    assert too_old not in ids
    position = Position.decode(polled["X-Eye-Newest"])
    assert (position.event_id, position.window) == (newest, 2)
    # Once the page has it, the window is quiet again.
    assert as_alice.get(ROWS, {"after": polled["X-Eye-Newest"]}).context["rows"] == []


def test_it_sends_a_late_row_with_the_new_ones(as_alice, web_app):
    arrive(web_app, at=NOW, received_at=NOW - timedelta(seconds=10), name="shown")
    shown = as_alice.get(URL).context["newest"]
    behind = arrive(web_app, at=NOW, received_at=NOW - timedelta(seconds=12), name="behind")
    fresh = arrive(web_app, at=NOW, received_at=NOW, name="fresh")

    polled = as_alice.get(ROWS, {"after": shown})

    ids = [e.event_id for e in polled.context["rows"]]
    assert ids[0] == fresh and behind in ids
    assert Position.decode(polled["X-Eye-Newest"]).event_id == fresh


def test_it_refuses_a_position_it_did_not_give(as_alice, db):
    assert as_alice.get(ROWS, {"after": "not-a-position"}).status_code == 400


def test_it_refuses_a_position_whose_window_starts_before_the_calendar(as_alice, db):
    token = orjson.dumps(["0001-01-01T00:00:00+00:00", str(uuid.uuid4()), 1])
    forged = base64.urlsafe_b64encode(token).decode().rstrip("=")

    response = as_alice.get(ROWS, {"after": forged})

    assert (response.status_code, response.content) == (400, b"invalid cursor")


def test_it_stops_counting_a_crowded_window(as_alice, web_app, monkeypatch):
    monkeypatch.setattr("dashboard.views.live.WINDOW_CAP", 2)
    for i in range(3):
        arrive(web_app, at=NOW, received_at=NOW, name=f"bulk {i}")

    position = Position.decode(as_alice.get(URL).context["newest"])

    assert position.window == 2


def test_it_shows_each_application_s_copy_of_an_event_that_arrived_at_once(
    as_alice, web_app, mobile_app
):
    # The same event sent to two applications in the same microsecond, stored by two
    # workers one after the other: the second is new to a page that shows the first, and
    # becomes the newest it has.
    event_id = uuid.uuid4()
    row = EventRow(str(event_id), NOW, str(SESSION_A), "page interaction", "twin", "{}")
    first, second = sorted((web_app, mobile_app), key=lambda app: app.application.pk)
    event_bulk_create(rows=[row], application_id=first.application.pk, received_at=NOW)
    shown = as_alice.get(URL).context["newest"]
    event_bulk_create(rows=[row], application_id=second.application.pk, received_at=NOW)

    polled = as_alice.get(ROWS, {"after": shown})
    again = as_alice.get(ROWS, {"after": polled["X-Eye-Newest"]})

    assert [(e.event_id, e.application_id) for e in polled.context["rows"]] == [
        (event_id, second.application.pk)
    ]
    assert Position.decode(polled["X-Eye-Newest"]).application_id == second.application.pk
    assert again.context["rows"] == []


def test_it_follows_a_position_given_before_positions_named_the_application(as_alice, web_app):
    # [received_at, event_id, window]: what a page open across the upgrade holds.
    shown_id = arrive(web_app, at=NOW, received_at=NOW - timedelta(seconds=30), name="shown")
    token = orjson.dumps([(NOW - timedelta(seconds=30)).isoformat(), str(shown_id), 1])
    old = base64.urlsafe_b64encode(token).decode().rstrip("=")
    fresh = arrive(web_app, at=NOW, received_at=NOW, name="fresh")

    polled = as_alice.get(ROWS, {"after": old})

    assert [e.event_id for e in polled.context["rows"]] == [fresh]
    assert Position.decode(polled["X-Eye-Newest"]).application_id == web_app.application.pk
