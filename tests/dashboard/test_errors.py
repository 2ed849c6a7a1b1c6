"""Ingest errors: refused requests, newest first, and counts by reason."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import Refusal
from tests.dashboard.support import EXTREME_RANGES, NOW, assert_refused_as_out_of_range
from tests.support import SEED_EVENT

URL = reverse("dashboard:errors")
FUTURE = {"index": 0, "field": "timestamp", "message": "is more than 300 seconds in the future"}
EMPTY = {"field": "category", "message": "must not be empty or only white space"}
UNKNOWN_KEY = {"message": "the API key is unknown or revoked"}


def refuse(minutes_ago: float, errors: list[dict], *, app=None, status=422, body="{}") -> Refusal:
    return Refusal.objects.create(
        created_at=NOW - timedelta(minutes=minutes_ago),
        application=app.application if app else None,
        status=status,
        errors=errors,
        body=body,
        body_size=len(body),
    )


def test_it_lists_refusals_newest_first_with_app_status_and_reasons(as_alice, web_app):
    old = refuse(300, [FUTURE], app=web_app)
    new = refuse(5, [UNKNOWN_KEY], status=401)
    refuse(60 * 30, [EMPTY], app=web_app)  # outside the last 24 hours

    response = as_alice.get(URL)

    assert list(response.context["page"].object_list) == [new, old]
    page = response.content.decode()
    assert page.index("the API key is unknown or revoked") < page.index(
        "timestamp: is more than 300 seconds in the future"
    )
    assert "unknown key" in page
    assert 'class="status status-401">401<' in page


def test_it_counts_refusals_by_reason_over_the_range(as_alice, web_app, mobile_app):
    refuse(10, [FUTURE], app=web_app)
    refuse(20, [FUTURE, EMPTY], app=web_app)
    refuse(30, [EMPTY], app=mobile_app)
    refuse(40, [UNKNOWN_KEY], status=401)
    refuse(60 * 26, [EMPTY], app=web_app)  # before the range

    everyone = as_alice.get(URL, {"range": "24h"}).context
    web = as_alice.get(URL, {"range": "24h", "app": "web"}).context

    assert [(r.reason, r.refusals) for r in everyone["reasons"]] == [
        ("category: must not be empty or only white space", 2),
        ("timestamp: is more than 300 seconds in the future", 2),
        ("the API key is unknown or revoked", 1),
    ]
    assert everyone["total"] == 4
    assert [(r.reason, r.refusals) for r in web["reasons"]] == [
        ("timestamp: is more than 300 seconds in the future", 2),
        ("category: must not be empty or only white space", 1),
    ]
    assert web["total"] == 2


def test_it_shows_the_body_truncated_with_the_whole_one_click_away(as_alice, web_app):
    body = '{"category": "' + "x" * 400 + '"}'
    refusal = refuse(5, [EMPTY], app=web_app, body=body)

    page = as_alice.get(URL).content.decode()

    assert f'<pre id="refusal-{refusal.pk}">{{&quot;category&quot;: &quot;{"x" * 400}' in page
    summary = page.split("<summary><code>")[1].split("</code>")[0]
    assert summary.endswith("\u2026") and len(summary) < len(page)
    assert "x" * 400 not in summary


def test_it_shows_refusals_the_api_recorded(as_alice, api, web_app, drain):
    future = {**SEED_EVENT, "timestamp": "2999-01-01 00:00:00"}
    assert api.post(future, key=web_app.writer).status_code == 422
    drain()
    # The API stamps refusals with the real time, not the dashboard's stopped clock.
    now = timezone.now()
    around_now = {
        "range": "custom",
        "start": f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "end": f"{now + timedelta(hours=1):%Y-%m-%dT%H:%M}",
    }

    response = as_alice.get(URL, around_now)

    [refusal] = response.context["page"].object_list
    assert refusal.application == web_app.application
    [reason] = response.context["reasons"]
    assert reason.reason.startswith("timestamp: ")
    assert reason.reason in response.content.decode()


def test_it_shows_a_refusal_holding_nul_with_the_nul_as_a_symbol(as_alice, api, web_app, drain):
    raw = b'{"category": "before\x00after", '
    assert api.post(None, raw=raw, key=web_app.writer).status_code == 400
    drain()
    now = timezone.now()
    around_now = {
        "range": "custom",
        "start": f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M}",
        "end": f"{now + timedelta(hours=1):%Y-%m-%dT%H:%M}",
    }

    response = as_alice.get(URL, around_now)

    [refusal] = response.context["page"].object_list
    assert refusal.status == 400
    assert "before\u2400after" in response.content.decode()


def test_it_says_a_keyless_refusals_body_was_not_kept(as_alice, db):
    refuse(1, [UNKNOWN_KEY], status=401, body="")

    response = as_alice.get(URL)

    assert "not kept without a valid key" in response.content.decode()


def test_it_pages_through_many_refusals(as_alice, db):
    for i in range(60):
        refuse(i + 1, [UNKNOWN_KEY], status=401)

    first = as_alice.get(URL)
    second = as_alice.get(URL, {"range": "24h", "page": 2})

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 10
    assert "page=2" in first.content.decode()


def test_it_says_when_nothing_was_refused(as_alice, db):
    assert "Nothing refused." in as_alice.get(URL).content.decode()


@pytest.mark.parametrize("query", EXTREME_RANGES)
def test_it_refuses_a_range_off_the_calendar(as_alice, query):
    assert_refused_as_out_of_range(as_alice.get(URL, {**{}, **query}))
