"""The list of recent sessions, read from session_activity_hour."""

import random
import uuid
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

import events.stats
from events.rollups import Granularity
from events.services import EventRow
from events.stats import RECENT_CANDIDATES, session_list_recent
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


def activity(seed: int) -> tuple[list[tuple[str, EventRow]], datetime, datetime]:
    """Sessions of two applications over a month and a day before it, bunched into a few
    hours with few events each, so that the orders' ties are many."""
    rng = random.Random(seed)
    end = Granularity.HOUR.ceil(NOW)
    start = end - timedelta(days=30)
    hours = [end - timedelta(hours=rng.choice([1, 2, 3, 5, 30, 400, 730])) for _ in range(6)]
    rows = []
    for n in range(rng.randint(60, 140)):
        for _ in range(rng.randint(1, 4)):
            app = rng.choice(["web", "mobile"])
            # Few minutes: events of one session often share their instant.
            at = rng.choice(hours) + timedelta(minutes=rng.randrange(4))
            kind = rng.choice(["a", "b", "c"])
            rows.append((app, EventRow(str(uuid.uuid4()), at, str(session(n)), "c", kind, "{}")))
    return rows, start, end


def expected_order(rows, *, start, end, application, order) -> list[tuple]:
    sessions: dict[uuid.UUID, dict] = {}
    for app, row in rows:
        if not start <= row.timestamp < end or application not in (None, app):
            continue
        seen = sessions.setdefault(uuid.UUID(row.session_id), {"apps": set(), "n": 0})
        seen["apps"].add(app)
        seen["n"] += 1
        seen["last"] = max(seen.get("last", start), Granularity.HOUR.floor(row.timestamp))
    ordered = sorted(sessions)
    if order == "recent":
        ordered.sort(key=lambda s: (sessions[s]["last"], sessions[s]["n"]), reverse=True)
    else:
        ordered.sort(key=lambda s: (sessions[s]["n"], sessions[s]["last"]), reverse=True)
    return [(s, sorted(sessions[s]["apps"]), sessions[s]["n"], *ends(rows, s)) for s in ordered]


def ends(rows, session_id: uuid.UUID) -> tuple:
    """The first and last events of the session, whatever the range, ties by event id."""
    own = sorted(
        (row.timestamp, uuid.UUID(row.event_id), f"{row.category} / {row.name}")
        for _, row in rows
        if row.session_id == str(session_id)
    )
    return own[0][0], own[-1][0], own[0][2], own[-1][2]


@pytest.mark.parametrize("candidates", [RECENT_CANDIDATES, 40])
@pytest.mark.parametrize("seed", range(3))
def test_both_orders_are_those_of_the_events_on_every_page(
    put, web_app, mobile_app, seed, candidates, monkeypatch
):
    # With few candidates allowed, the deeper pages order the whole range instead.
    monkeypatch.setattr("events.stats.RECENT_CANDIDATES", candidates)
    rows, start, end = activity(seed)
    apps = {"web": web_app, "mobile": mobile_app}
    for name, app in apps.items():
        put.many(app, [row for owner, row in rows if owner == name])
    ids = {app.application.pk: name for name, app in apps.items()}

    for order in ("recent", "events"):
        for application in (None, "web"):
            expected = expected_order(
                rows, start=start, end=end, application=application, order=order
            )
            for limit, offset in [(50, 0), (10, 0), (10, 10), (7, 33), (25, 50), (50, 100)]:
                shown = session_list_recent(
                    start=start,
                    end=end,
                    application_id=apps[application].application.pk if application else None,
                    order=order,
                    limit=limit,
                    offset=offset,
                )
                assert [
                    (
                        s.session_id,
                        sorted(ids[i] for i in s.application_ids),
                        s.events,
                        s.first,
                        s.last,
                        s.entry,
                        s.exit,
                    )
                    for s in shown
                ] == expected[offset : offset + limit], (order, application, limit, offset)


def test_a_session_whose_events_went_between_two_reads_is_listed_as_the_rollup_says(put, web_app):
    for n, hours in [(1, 1), (2, 2), (3, 3)]:
        put(web_app, NOW - timedelta(hours=hours), session=session(n))
    # What a deletion leaves between the list's two reads: the events gone, their hour of
    # session activity not yet.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events WHERE session_id = %s", [session(2)])
    end = Granularity.HOUR.ceil(NOW)

    shown = session_list_recent(start=end - timedelta(days=1), end=end)

    assert [(s.session_id, s.events) for s in shown] == [
        (session(1), 1),
        (session(2), 1),
        (session(3), 1),
    ]


def test_a_range_ending_hours_after_the_last_event_reads_only_the_newest_hours(
    put, web_app, monkeypatch
):
    """A 30-day range ends at midnight, hours after the last event: its first page comes
    from the newest active hours, as that of a range ending at the last event does, not
    from ordering the whole range because the window doubled past the busy hours."""
    monkeypatch.setattr("events.stats.RECENT_CANDIDATES", 40)
    whole_range_orders = []

    def ordered_rows(**arguments):
        whole_range_orders.append(arguments)
        return original(**arguments)

    original = events.stats._ordered_rows
    monkeypatch.setattr(events.stats, "_ordered_rows", ordered_rows)
    newest = Granularity.HOUR.floor(NOW) - timedelta(hours=30)
    rows = [
        (
            "web",
            EventRow(
                str(uuid.uuid4()), newest - timedelta(hours=n % 8), str(session(n)), "c", "a", "{}"
            ),
        )
        for n in range(70)
    ]
    put.many(web_app, [row for _, row in rows])
    end = newest + timedelta(hours=20)
    start = end - timedelta(days=30)

    shown = session_list_recent(start=start, end=end, limit=5)

    expected = expected_order(rows, start=start, end=end, application=None, order="recent")
    assert [(s.session_id, s.events, s.first) for s in shown] == [
        (session_id, events, first) for session_id, _, events, first, *_ in expected[:5]
    ]
    assert whole_range_orders == []
