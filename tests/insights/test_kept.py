"""A dashboard's cards are kept for EYE_INSIGHT_KEEP_SECONDS: a second visit reuses them,
Refresh computes them again, and a deletion of events is never hidden by a kept number."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from events.erasure import DeletionScope, deletion_request_create, deletion_request_run
from events.models import DeletionRequest
from insights.kept import insights_evaluate_kept
from insights.models import Dashboard
from insights.services import insight_create
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
    pageview(put, web_app, minutes_ago=20)

    assert shown(as_alice, dashboard) == 2


def test_keeping_can_be_turned_off(as_alice, put, web_app, dashboard, settings):
    settings.EYE_INSIGHT_KEEP_SECONDS = 0
    pageview(put, web_app, minutes_ago=30)
    assert shown(as_alice, dashboard) == 1
    pageview(put, web_app, minutes_ago=20)

    assert shown(as_alice, dashboard) == 2


def test_a_cache_that_cannot_be_reached_leaves_the_cards_computed(
    put, web_app, dashboard, settings
):
    # Nothing listens on port 1: every read and write of the cache fails.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    insights = list(dashboard.insights.all())
    pageview(put, web_app, minutes_ago=30)
    [first] = insights_evaluate_kept(insights=insights, range_params=None)
    pageview(put, web_app, minutes_ago=20)

    [second] = insights_evaluate_kept(insights=insights, range_params=None)

    assert (first.number, second.number) == (1, 2)
