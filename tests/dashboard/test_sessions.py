"""The list of recent sessions, read from session_activity_hour."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import EXTREME_RANGES, NOW, assert_refused_as_out_of_range, raw

URL = reverse("dashboard:sessions")


def session(n: int) -> uuid.UUID:
    return uuid.UUID(int=n)


def test_it_lists_sessions_active_in_the_range_most_recent_first(as_alice, put, web_app):
    put(web_app, NOW - timedelta(hours=30), session=session(1))  # before the last 24 hours
    put(web_app, NOW - timedelta(hours=5), session=session(2), name="pageview")
    put(web_app, NOW - timedelta(hours=5, minutes=-3), session=session(2), name="submit")
    put(web_app, NOW - timedelta(hours=1), session=session(3), name="log in")

    response = as_alice.get(URL)

    shown = response.context["sessions"]
    assert [s.session_id for s in shown] == [session(3), session(2)]
    second = shown[1]
    assert second.events == 2
    assert (second.first, second.last) == (
        NOW - timedelta(hours=5),
        NOW - timedelta(hours=4, minutes=57),
    )
    assert (second.entry, second.exit) == (
        "page interaction / pageview",
        "page interaction / submit",
    )
    page = response.content.decode()
    assert reverse("dashboard:session", args=[session(2)]) in page
    assert "3 min" in page


def test_it_orders_by_events_and_filters_by_app(as_alice, put, web_app, mobile_app):
    for i in range(3):
        put(mobile_app, NOW - timedelta(hours=3, minutes=i), session=session(7))
    put(web_app, NOW - timedelta(minutes=10), session=session(8))

    busiest = as_alice.get(URL, {"range": "24h", "order": "events"}).context["sessions"]
    mobile = as_alice.get(URL, {"range": "24h", "app": "mobile"}).context["sessions"]

    assert [s.session_id for s in busiest] == [session(7), session(8)]
    assert [s.session_id for s in mobile] == [session(7)]


def test_it_counts_the_same_sessions_as_the_raw_events(as_alice, known_events):
    response = as_alice.get(URL, {"range": "7d", "order": "events"})

    shown = {s.session_id: s.events for s in response.context["sessions"]}
    expected = dict(
        raw(
            "SELECT session_id, count(*) FROM events WHERE timestamp >= %s AND timestamp < %s "
            "GROUP BY 1",
            [
                NOW.replace(minute=0, second=0) - timedelta(days=7) + timedelta(hours=1),
                NOW.replace(minute=0, second=0) + timedelta(hours=1),
            ],
        )
    )
    assert shown == expected


def test_it_widens_a_minute_range_to_whole_hours_and_says_so(as_alice, put, web_app):
    put(web_app, NOW - timedelta(minutes=50), session=session(4))

    response = as_alice.get(URL, {"range": "1h"})

    assert [s.session_id for s in response.context["sessions"]] == [session(4)]
    assert "whole hours" in response.content.decode()


def test_it_pages_through_many_sessions(as_alice, put, web_app):
    for i in range(55):
        put(web_app, NOW - timedelta(hours=2), session=session(100 + i))

    first = as_alice.get(URL)
    second = as_alice.get(URL, {"range": "24h", "page": 2})

    assert len(first.context["sessions"]) == 50
    assert len(second.context["sessions"]) == 5
    ids = {s.session_id for s in first.context["sessions"]} | {
        s.session_id for s in second.context["sessions"]
    }
    assert len(ids) == 55
    assert "page=2" in first.content.decode()


def test_it_says_when_no_session_was_active(as_alice, db):
    assert "No session was active" in as_alice.get(URL).content.decode()


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, {**{}, **query}))
