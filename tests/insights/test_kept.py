"""A dashboard's cards are kept for EYE_INSIGHT_KEEP_SECONDS: a second visit reuses them,
Refresh computes them again, and a deletion of events is never hidden by a kept number.
The worker keeps a dashboard opened lately fresh: each minute it computes again the cards
that would expire before its next round, so that a visit finds them kept."""

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from events.erasure import DeletionScope, deletion_request_create, deletion_request_run
from events.models import DeletionRequest
from insights.kept import FRESH_ROUND_LOCK, insights_evaluate_kept, kept_dashboards_refresh
from insights.models import Dashboard
from insights.services import insight_create
from tasks.tasks import keep_dashboards_fresh
from tests.dashboard.support import NOW

SESSION = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def dashboard(alice) -> Dashboard:
    dashboard = Dashboard.objects.create(owner=alice, name="Growth")
    insight_create(
        owner=alice,
        kind="explore",
        name="Pageviews",
        query="range=7d&category=page+interaction&name=pageview",
        dashboard=dashboard,
    )
    return dashboard


def shown(client, dashboard: Dashboard, **params: str) -> int:
    page = client.get(reverse("dashboard:dashboard", args=[dashboard.pk]), params)
    assert page.status_code == 200
    [number] = re.findall(r"<strong data-number>([\d,]+)</strong>", page.content.decode())
    return int(number.replace(",", ""))


def pageview(put, app, *, minutes_ago: int, session: str = SESSION) -> None:
    put(app, NOW - timedelta(minutes=minutes_ago), session=session)


def test_a_second_visit_shows_the_kept_number_and_refresh_computes_it_again(
    as_alice, as_carol, put, web_app, dashboard
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    # Kept for every viewer: the cards depend on the insight, not on who looks.
    assert shown(as_carol, dashboard) == 1
    assert shown(as_alice, dashboard, refresh="1") == 2
    assert shown(as_carol, dashboard) == 2


def test_the_page_says_when_its_numbers_were_computed_and_links_to_refresh(
    as_alice, put, web_app, dashboard
):
    pageview(put, web_app, minutes_ago=30)

    html = as_alice.get(
        reverse("dashboard:dashboard", args=[dashboard.pk]), {"range": "24h"}
    ).content.decode()

    assert re.search(r"Figures as of \d{4}-\d\d-\d\d \d\d:\d\d UTC", html)
    assert 'href="?range=24h&amp;refresh=1"' in html


def test_another_range_is_computed_apart(as_alice, put, web_app, dashboard):
    pageview(put, web_app, minutes_ago=30)
    pageview(put, web_app, minutes_ago=60 * 24 * 3)
    assert shown(as_alice, dashboard) == 2

    assert shown(as_alice, dashboard, range="24h") == 1


def test_a_renamed_insight_shows_its_new_name_with_the_kept_number(
    as_alice, put, web_app, dashboard
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    dashboard.insights.update(name="Views of every page")

    page = as_alice.get(reverse("dashboard:dashboard", args=[dashboard.pk])).content.decode()

    assert "Views of every page" in page


def test_a_finished_deletion_is_never_hidden_by_a_kept_number(
    as_alice, bob, put, web_app, dashboard
):
    pageview(put, web_app, minutes_ago=30)
    pageview(put, web_app, minutes_ago=20, session="00000000-0000-4000-8000-000000000002")
    assert shown(as_alice, dashboard) == 2

    request = deletion_request_create(scope=DeletionScope(session_id=SESSION), actor=bob)
    deletion_request_run(deletion_request_id=request.pk)

    assert shown(as_alice, dashboard) == 1


def test_nothing_is_kept_while_a_deletion_runs(as_alice, bob, put, web_app, dashboard):
    pageview(put, web_app, minutes_ago=30)
    request = deletion_request_create(scope=DeletionScope(session_id=SESSION), actor=bob)
    DeletionRequest.objects.filter(pk=request.pk).update(
        status=DeletionRequest.Status.RUNNING, started_at=NOW
    )
    assert shown(as_alice, dashboard) == 1
    # Another session's: the request covers its own session's events received before it.
    pageview(put, web_app, minutes_ago=20, session=str(uuid.uuid4()))

    assert shown(as_alice, dashboard) == 2


def test_keeping_can_be_turned_off(as_alice, put, web_app, dashboard, settings):
    settings.EYE_INSIGHT_KEEP_SECONDS = 0
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    assert shown(as_alice, dashboard) == 2


@pytest.mark.parametrize("backend", ["redis", "sqlite"])
def test_a_cache_that_cannot_be_reached_leaves_the_cards_computed(
    put, web_app, dashboard, settings, tmp_path, backend
):
    # Nothing listens on port 1, and a directory is no SQLite file: every read and write of
    # the cache fails.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
        if backend == "redis"
        else {"BACKEND": "eye.sqlite_cache.SqliteCache", "LOCATION": str(tmp_path)}
    }
    insights = list(dashboard.insights.all())
    pageview(put, web_app, minutes_ago=30)
    [first] = insights_evaluate_kept(insights=insights, range_params=None)
    pageview(put, web_app, minutes_ago=20)

    [second] = insights_evaluate_kept(insights=insights, range_params=None)

    assert (first.number, second.number) == (1, 2)
    dashboard.viewed_at = timezone.now()
    dashboard.save(update_fields=["viewed_at"])
    assert kept_dashboards_refresh(now=timezone.now()) == 0


def near_expiry(settings) -> datetime:
    """A moment at which the cards computed just now expire within the worker's margin."""
    return timezone.now() + timedelta(seconds=settings.EYE_INSIGHT_KEEP_SECONDS - 60)


def test_the_worker_computes_again_the_cards_about_to_expire(
    as_alice, as_carol, put, web_app, dashboard, settings
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 1
    pageview(put, web_app, minutes_ago=10)

    # The worker's number, kept: the visit computes nothing.
    assert shown(as_carol, dashboard) == 2


def test_cards_far_from_expiring_stay_as_they_were_kept(
    as_alice, as_carol, put, web_app, dashboard
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    assert kept_dashboards_refresh(now=timezone.now()) == 1

    assert shown(as_carol, dashboard) == 1


def test_a_dashboard_not_opened_lately_is_left_to_its_visitors(
    as_alice, put, web_app, dashboard, settings
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    opened = timezone.now() - timedelta(seconds=settings.EYE_INSIGHT_KEEP_FRESH_SECONDS + 60)
    Dashboard.objects.filter(pk=dashboard.pk).update(viewed_at=opened)
    pageview(put, web_app, minutes_ago=20)

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 0
    assert shown(as_alice, dashboard, refresh="1") == 2


def test_opening_it_with_its_own_ranges_is_what_counts(as_alice, dashboard):
    before = timezone.now()
    as_alice.get(reverse("dashboard:dashboard", args=[dashboard.pk]), {"range": "24h"})
    dashboard.refresh_from_db()
    assert dashboard.viewed_at is None

    as_alice.get(reverse("dashboard:dashboard", args=[dashboard.pk]))

    dashboard.refresh_from_db()
    assert dashboard.viewed_at >= before


def test_the_worker_computes_nothing_while_a_deletion_runs(
    as_alice, bob, put, web_app, dashboard, settings
):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    request = deletion_request_create(scope=DeletionScope(session_id=SESSION), actor=bob)
    DeletionRequest.objects.filter(pk=request.pk).update(
        status=DeletionRequest.Status.RUNNING, started_at=NOW
    )

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 0


def test_one_round_at_a_time(as_alice, put, web_app, dashboard, settings):
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)
    cache.add(FRESH_ROUND_LOCK, "another worker", timeout=60)

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 0
    assert shown(as_alice, dashboard) == 1

    cache.delete(FRESH_ROUND_LOCK)
    assert kept_dashboards_refresh(now=near_expiry(settings)) == 1
    assert shown(as_alice, dashboard) == 2


def test_the_worker_can_be_turned_off(as_alice, put, web_app, dashboard, settings):
    settings.EYE_INSIGHT_KEEP_FRESH_SECONDS = 0
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 0


def test_the_periodic_task_runs_a_round_every_minute(
    as_alice, as_carol, put, web_app, dashboard, settings
):
    minutes = [NOW.replace(minute=minute) for minute in range(60)]
    assert all(keep_dashboards_fresh.s().validate_datetime(moment) for moment in minutes)
    # Kept for less than the worker's margin: every round computes every card again.
    settings.EYE_INSIGHT_KEEP_SECONDS = 90
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    keep_dashboards_fresh.call_local()
    pageview(put, web_app, minutes_ago=10)

    assert shown(as_carol, dashboard) == 2


def test_a_round_past_its_budget_leaves_the_dashboards_opened_longest_ago(
    as_alice, alice, put, web_app, dashboard, settings, monkeypatch
):
    older = Dashboard.objects.create(owner=alice, name="Older")
    insight_create(owner=alice, kind="explore", name="All", query="range=7d", dashboard=older)
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, older) == 1
    assert shown(as_alice, dashboard) == 1
    Dashboard.objects.filter(pk=older.pk).update(viewed_at=timezone.now() - timedelta(minutes=5))
    pageview(put, web_app, minutes_ago=20)
    monkeypatch.setattr("insights.kept.FRESH_ROUND_BUDGET", timedelta(0))

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 1

    assert (shown(as_alice, dashboard), shown(as_alice, older)) == (2, 1)


def test_a_round_that_outlasted_its_lock_leaves_the_next_rounds_lock(
    as_alice, put, web_app, dashboard, settings, monkeypatch
):
    # While this round computes, its lock expires and another worker's round takes it.
    import insights.kept

    pageview(put, web_app, minutes_ago=30)
    shown(as_alice, dashboard)
    evaluate = insights.kept.insights_evaluate_kept

    def slow_evaluate(**kwargs):
        cache.set(FRESH_ROUND_LOCK, "the next round's", timeout=60)
        return evaluate(**kwargs)

    monkeypatch.setattr(insights.kept, "insights_evaluate_kept", slow_evaluate)

    assert kept_dashboards_refresh(now=near_expiry(settings)) == 1
    assert cache.get(FRESH_ROUND_LOCK) == "the next round's"
