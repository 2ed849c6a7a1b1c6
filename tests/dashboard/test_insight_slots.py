"""The dashboard's pages compute a bounded number of funnels and breakdowns from the raw
events at once, across every web process, in a pool of their own: past the bound a page
answers 503 at once, says why and asks again, rather than hold a web thread that ingest
needs. What reads kept counts (the rollups, a tracked key's value counts, a kept card)
needs no slot.

Slots held by another connection are what other web processes computing look like.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.urls import reverse

from alerts.digests import digest_subscribe
from events.insight_sql import API_SLOTS, DASHBOARD_SLOTS
from events.tracked_keys import tracked_key_add, tracked_key_backfill
from insights.models import Dashboard
from insights.services import dashboard_create, insight_create
from tests.dashboard.support import NOW
from tests.dashboard.test_funnels import QUERY, URL, sessions_per_step
from tests.support import another_connection, slot_release, slots_hold, table_held

NAME_URL = reverse("dashboard:name")
BY_PATH = {"category": "page interaction", "name": "pageview", "range": "24h", "by": "path"}


@pytest.fixture
def other_process(settings) -> Iterator[psycopg.Connection]:
    settings.EYE_INSIGHT_DASHBOARD_CONCURRENCY = 2
    with another_connection() as other:
        yield other


@pytest.fixture
def landing(put, web_app) -> None:
    """Two sessions from the landing page; one goes on to the pricing and submits."""
    for i, depth in enumerate([3, 1]):
        session = f"00000000-0000-4000-8000-00000000020{i}"
        at = NOW - timedelta(hours=3, minutes=i)
        put(web_app, at, session=session, data={"path": "/"})
        if depth == 3:
            put(web_app, at + timedelta(seconds=5), session=session, data={"path": "/pricing"})
            put(
                web_app,
                at + timedelta(seconds=9),
                session=session,
                category="form interaction",
                name="submit",
            )


def assert_busy(response, slots: int = 2) -> None:
    assert response.status_code == 503, response.status_code
    assert response["Retry-After"] == "5"
    html = response.content.decode()
    assert "data-busy" in html
    assert f"{slots} computations over a whole range of events" in html
    assert '<meta http-equiv="refresh" content="5">' in html


def test_the_funnels_page_says_it_is_busy_while_every_slot_is_taken(
    as_alice, landing, other_process
):
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)

    assert_busy(as_alice.get(URL, QUERY))

    slot_release(other_process, DASHBOARD_SLOTS, 1)
    response = as_alice.get(URL, QUERY)
    assert response.status_code == 200
    assert sessions_per_step(response.content.decode()) == ["2", "1", "1"]


def test_the_api_and_the_dashboard_draw_on_pools_of_their_own(as_alice, landing, other_process):
    slots_hold(other_process, API_SLOTS, 0, 1)

    assert as_alice.get(URL, QUERY).status_code == 200


def test_a_page_gives_its_slot_back(as_alice, landing, other_process, settings):
    settings.EYE_INSIGHT_DASHBOARD_CONCURRENCY = 1

    statuses = [as_alice.get(URL, QUERY).status_code for _ in range(3)]
    statuses.append(as_alice.get(NAME_URL, BY_PATH).status_code)

    assert statuses == [200, 200, 200, 200]
    # Free for another process: this one holds no slot between requests.
    slots_hold(other_process, DASHBOARD_SLOTS, 0)


def test_a_breakdown_from_raw_events_needs_a_slot_and_a_tracked_one_does_not(
    as_alice, landing, other_process
):
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)
    assert_busy(as_alice.get(NAME_URL, BY_PATH))
    # Without a key picked the page reads the rollups.
    assert as_alice.get(NAME_URL, {**BY_PATH, "by": ""}).status_code == 200

    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)

    assert as_alice.get(NAME_URL, BY_PATH).status_code == 200
    assert_busy(as_alice.get(NAME_URL, {**BY_PATH, "by": "plan"}))


@pytest.fixture
def board(alice) -> Dashboard:
    board = dashboard_create(owner=alice, name="Growth")
    funnel = "&".join(f"{k}={v}" for k, v in QUERY.items()).replace("\t", "%09")
    insight_create(owner=alice, kind="funnel", name="Landing", query=funnel, dashboard=board)
    return board


def test_a_dashboard_needs_a_slot_only_for_the_cards_it_computes(
    as_alice, alice, landing, board, other_process
):
    page = reverse("dashboard:dashboard", args=[board.pk])
    assert as_alice.get(page).status_code == 200
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)

    # Kept from the visit before: nothing to compute.
    assert as_alice.get(page).status_code == 200
    assert_busy(as_alice.get(page, {"refresh": "1"}))
    overview_only = dashboard_create(owner=alice, name="Volume")
    insight_create(
        owner=alice, kind="overview", name="All", query="range=7d", dashboard=overview_only
    )
    assert as_alice.get(reverse("dashboard:dashboard", args=[overview_only.pk])).status_code == 200


def test_a_card_past_the_time_limit_says_so_and_the_others_show(
    as_alice, alice, landing, board, settings, monkeypatch
):
    import insights.evaluation
    from events.insight_sql import insight_fetchall

    settings.EYE_INSIGHT_TIMEOUT_SECONDS = 0.25
    insight_create(owner=alice, kind="overview", name="All", query="range=7d", dashboard=board)
    page = reverse("dashboard:dashboard", args=[board.pk])
    computed = insights.evaluation._funnel

    def years_of_events(definition):
        insight_fetchall(sql="SELECT pg_sleep(2)", params=[])
        return computed(definition)

    monkeypatch.setattr(insights.evaluation, "_funnel", years_of_events)
    slow = as_alice.get(page)
    monkeypatch.setattr(insights.evaluation, "_funnel", computed)
    again = as_alice.get(page)

    # The page answers with every card; only the funnel's, which reads the raw events,
    # was stopped, and it is not kept: the next visit computes it.
    assert slow.status_code == 200
    html = slow.content.decode()
    assert "Took longer than 0.25 seconds to compute, so it was stopped" in html
    assert [card.evaluation.number for card in slow.context["cards"]] == [None, 4]
    assert again.status_code == 200
    assert "Took longer than" not in again.content.decode()


def test_the_digest_preview_of_a_dashboard_with_a_funnel_needs_a_slot(
    as_alice, alice, landing, board, other_process
):
    digest = reverse("dashboard:digest")
    digest_subscribe(user=alice, frequency="weekly", application=None, dashboard=board)
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)

    assert_busy(as_alice.get(digest))

    digest_subscribe(user=alice, frequency="weekly", application=None, dashboard=None)
    assert as_alice.get(digest).status_code == 200


def test_no_bound_when_set_to_zero(as_alice, landing, other_process, settings):
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)
    settings.EYE_INSIGHT_DASHBOARD_CONCURRENCY = 0

    assert as_alice.get(URL, QUERY).status_code == 200
    assert as_alice.get(NAME_URL, BY_PATH).status_code == 200


def test_the_busiest_sessions_need_a_slot_and_the_recent_ones_do_not(
    as_alice, landing, other_process
):
    sessions = reverse("dashboard:sessions")
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)

    # The newest sessions are a few hours of session_activity_hour; the busiest, the
    # whole range of it.
    recent = as_alice.get(sessions, {"range": "24h"})
    assert recent.status_code == 200
    assert "00000000-0000-4000-8000-000000000200" in recent.content.decode()
    assert_busy(as_alice.get(sessions, {"range": "24h", "order": "events"}))

    slot_release(other_process, DASHBOARD_SLOTS, 0)
    busiest = as_alice.get(sessions, {"range": "24h", "order": "events"}).content.decode()
    assert busiest.index("00000000-0000-4000-8000-000000000200") < busiest.index(
        "00000000-0000-4000-8000-000000000201"
    )


def test_a_tracked_breakdown_that_falls_back_on_the_raw_events_needs_a_slot(
    as_alice, landing, put, web_app, other_process
):
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)
    assert as_alice.get(NAME_URL, BY_PATH).status_code == 200

    # A value too long to keep a count of: the counts of its hour cannot answer.
    put(web_app, NOW - timedelta(hours=2), data={"path": "/" + "x" * 2500})

    assert_busy(as_alice.get(NAME_URL, BY_PATH))
    slot_release(other_process, DASHBOARD_SLOTS, 1)
    shown = as_alice.get(NAME_URL, BY_PATH)
    assert shown.status_code == 200
    assert "/" + "x" * 40 in shown.content.decode()


def test_a_page_whose_computing_runs_past_the_time_limit_says_so(as_alice, other_process, settings):
    settings.EYE_INSIGHT_TIMEOUT_SECONDS = 0.25
    busiest = {"order": "events"}
    with table_held(other_process, "session_activity_hour", for_seconds=1.5):
        response = as_alice.get(reverse("dashboard:sessions"), busiest)

    assert response.status_code == 503
    html = response.content.decode()
    assert "data-too-slow" in html
    assert "longer than 0.25 seconds" in html
    # Asking again by itself would only take as long.
    assert "http-equiv" not in html
    assert as_alice.get(reverse("dashboard:sessions"), busiest).status_code == 200
    # The slots were given back.
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)


def test_the_digest_preview_of_a_tracked_breakdown_that_falls_back_needs_a_slot(
    as_alice, alice, landing, put, web_app, other_process
):
    tracked_key_backfill(tracked_key_id=tracked_key_add(key="path").pk)
    board = dashboard_create(owner=alice, name="Paths")
    query = "category=page+interaction&name=pageview&by=path&range=7d"
    insight_create(owner=alice, kind="breakdown", name="By path", query=query, dashboard=board)
    digest_subscribe(user=alice, frequency="weekly", application=None, dashboard=board)
    digest = reverse("dashboard:digest")
    slots_hold(other_process, DASHBOARD_SLOTS, 0, 1)
    assert as_alice.get(digest).status_code == 200

    # A value too long to keep a count of, in the weeks the digest reads (the two before
    # the real now: the preview's period is not the pages' fixed one).
    now = datetime.now(UTC)
    for days in range(15):
        put(web_app, now - timedelta(days=days, hours=1), data={"path": "/" + "x" * 2500})

    assert_busy(as_alice.get(digest))
