"""Live: the newest events, and a rows endpoint that returns only what is newer."""

from datetime import timedelta

from django.urls import reverse

from events.paging import decode_cursor
from tests.dashboard.support import NOW, SESSION_B

URL = reverse("dashboard:live")
ROWS = reverse("dashboard:live_rows")


def test_it_shows_the_newest_events_and_where_to_poll(as_alice, put, web_app):
    older = put(web_app, NOW - timedelta(minutes=2))
    newest = put(web_app, NOW - timedelta(minutes=1), name="cta click")

    response = as_alice.get(URL)

    assert [e.event_id for e in response.context["rows"]] == [newest, older]
    timestamp, event_id, _ = decode_cursor(response.context["newest"])
    assert (timestamp, event_id) == (NOW - timedelta(minutes=1), newest)
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
    assert body.count('<tr class="event-row">') == 2
    assert "<html" not in body
    _, event_id, _ = decode_cursor(response["X-Eye-Newest"])
    assert event_id == second

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
    assert as_alice.get(ROWS, {"session": "garbage"}).status_code == 400


def test_it_never_caches_the_rows(as_alice, db):
    assert as_alice.get(ROWS)["Cache-Control"] == "no-store"
