"""Digests of a chosen dashboard: each of its insights' numbers for the last day or week,
with the change against the period before, as an HTML e-mail with a plain-text part; the
numbers are those the dashboard shows for the same period."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from alerts.digests import change_text, digest_build, digest_period, digest_subscribe, digests_send
from insights.forms import kind_value
from insights.services import dashboard_create, insight_create
from tests.dashboard.support import NOW, Put, known_rows


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    monkeypatch.setattr("insights.ranges.utc_now", lambda: NOW)


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", email="alice@example.com", password="alice-pw-1")


@pytest.fixture
def board(db, alice, web_app, mobile_app):
    put = Put()
    put.many(web_app, known_rows(1400, seed=1, span=timedelta(days=70)))
    put.many(mobile_app, known_rows(500, seed=4, span=timedelta(days=9)))
    board = dashboard_create(owner=alice, name="Growth")
    funnel = {
        "step1": kind_value("page interaction", "pageview"),
        "step2": kind_value("form interaction", "submit"),
        "window": "86400",
    }
    for kind, name, query in [
        ("overview", "All traffic", {"range": "24h"}),
        ("overview", "Mobile", {"range": "30d", "app": "mobile"}),
        ("explore", "Purchases", {"range": "7d", "category": "commerce", "name": "purchase"}),
        ("funnel", "Signup funnel", {"range": "30d", **funnel}),
        (
            "breakdown",
            "Pages by path",
            {"range": "7d", "category": "page interaction", "by": "path"},
        ),
    ]:
        insight_create(owner=alice, kind=kind, name=name, query=urlencode(query), dashboard=board)
    return board


def shown_numbers(client: Client, path: str) -> list[int]:
    page = client.get(path)
    assert page.status_code == 200
    numbers = re.findall(r"<strong data-number>([\d,]+)</strong>", page.content.decode())
    return [int(number.replace(",", "")) for number in numbers]


@pytest.mark.parametrize("frequency", ["daily", "weekly"])
def test_a_dashboard_digests_numbers_equal_the_dashboards_for_the_same_period(
    board, alice, frequency, settings
):
    settings.EYE_PUBLIC_URL = "http://eye.test"
    digest = digest_build(frequency=frequency, application=None, dashboard=board, now=NOW)
    period = digest_period(frequency=frequency, now=NOW)
    client = Client()
    client.force_login(alice)

    [link] = re.findall(r'href="(http://eye.test/[^"]+)"', digest.html)
    path = link.removeprefix("http://eye.test").replace("&amp;", "&")
    shown = shown_numbers(client, path)
    before = shown_numbers(
        client, f"{path.split('?')[0]}?{urlencode(period.range_params(previous=True))}"
    )

    assert digest.numbers is None and digest.insights is not None
    assert [i.name for i in digest.insights] == [
        "All traffic",
        "Mobile",
        "Purchases",
        "Signup funnel",
        "Pages by path",
    ]
    assert sum(shown) > 0 and shown != before
    assert [i.current for i in digest.insights] == shown
    assert [i.previous for i in digest.insights] == before
    mailed = re.findall(r'data-insight="\d">([^<]*)<', digest.html)
    assert mailed == [f"{number:,}" for number in shown]
    changes = [change_text(now, then) for now, then in zip(shown, before, strict=True)]
    lines = digest.text.splitlines()[3:8]
    assert lines == [
        f"{i.name}: {i.current:,} {i.label}" + (f" ({change})" if change else "")
        for i, change in zip(digest.insights, changes, strict=True)
    ]
    assert digest.subject == f"[The Eye] Your {'day' if frequency == 'daily' else 'week'}: Growth"


def test_it_sends_the_chosen_dashboards_digest_as_html_with_a_text_part(board, alice, mailoutbox):
    digest_subscribe(user=alice, frequency="weekly", application=None, dashboard=board)

    assert digests_send(now=NOW) == 1
    assert digests_send(now=NOW + timedelta(hours=1)) == 0

    [message] = mailoutbox
    assert message.subject == "[The Eye] Your week: Growth"
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and 'data-insight="4"' in html
    assert "Signup funnel: " in message.body and "<" not in message.body


def test_a_deleted_dashboard_turns_the_digest_back_to_the_overview(board, alice, mailoutbox):
    subscription = digest_subscribe(
        user=alice, frequency="daily", application=None, dashboard=board
    )
    board.delete()
    subscription.refresh_from_db()

    assert subscription.dashboard is None
    assert digests_send(now=NOW) == 1
    assert mailoutbox[0].subject.startswith("[The Eye] Your day: ") and "events" in (
        mailoutbox[0].subject
    )


def event_reads(queries: CaptureQueriesContext) -> int:
    return sum('"events"' in query["sql"] for query in queries.captured_queries)


def test_a_digest_is_computed_once_however_many_subscribed_to_it(board, alice, mailoutbox):
    digest_subscribe(user=alice, frequency="daily", application=None, dashboard=board)
    with CaptureQueriesContext(connection) as alone:
        assert digests_send(now=NOW) == 1
    for name, frequency in (("bob", "daily"), ("carol", "daily"), ("dave", "weekly")):
        reader = User.objects.create_user(name, email=f"{name}@example.com")
        digest_subscribe(user=reader, frequency=frequency, application=None, dashboard=board)

    with CaptureQueriesContext(connection) as together:
        assert digests_send(now=NOW + timedelta(days=1)) == 4

    daily = [message for message in mailoutbox[1:] if "Your day" in message.subject]
    assert sorted(message.to[0] for message in daily) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert len({message.body for message in daily}) == 1
    assert event_reads(alone) > 0
    # The daily one for three readers and dave's weekly one: two digests computed.
    assert event_reads(together) == 2 * event_reads(alone)
