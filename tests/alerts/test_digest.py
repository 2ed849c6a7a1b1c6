"""Digests: the overview's numbers for the last day or week against the one before, as an
HTML e-mail with a plain-text part, once per period; the numbers are the dashboard's."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client

from alerts.digests import digest_build, digest_period, digest_subscribe, digests_send
from alerts.models import DigestSubscription
from events.models import Refusal
from tests.dashboard.support import NOW, Put, known_rows
from tests.support import free_port


@pytest.fixture
def known(db, web_app, mobile_app):
    put = Put()
    put.many(web_app, known_rows(1400, seed=1, span=timedelta(days=70)))
    put.many(mobile_app, known_rows(500, seed=4, span=timedelta(days=9)))
    for days, count in ((3, 4), (10, 2), (1, 1)):
        for i in range(count):
            Refusal.objects.create(
                created_at=NOW - timedelta(days=days, minutes=i),
                application=web_app.application,
                status=422,
                errors=[{"index": 0, "field": "name", "message": "required"}],
            )


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", email="alice@example.com", password="alice-pw-1")


def page_numbers(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-stat="(\w+)">([^<]*)<', html))


def page_changes(html: str) -> list[str]:
    """The change under each card: "▲ 12%", "▼ 3%", "new", "0%"."""
    changes = []
    for card in html.split('class="stat-change">')[1:5]:
        text = re.sub(
            r'<span class="visually-hidden">\w+</span>', "", card.split('<span class="muted">')[0]
        )
        changes.append(re.sub(r"<[^>]+>", "", text).strip())
    return changes


@pytest.mark.parametrize("frequency", ["daily", "weekly"])
@pytest.mark.parametrize("app", [None, "web"])
def test_a_digests_numbers_equal_the_dashboards_for_the_same_period(
    known, alice, web_app, frequency, app, settings
):
    settings.EYE_PUBLIC_URL = "http://eye.test"
    application = web_app.application if app else None
    digest = digest_build(frequency=frequency, application=application, now=NOW)
    client = Client()
    client.force_login(alice)

    [link] = re.findall(r'href="(http://eye.test/[^"]+)"', digest.html)
    page = client.get(link.removeprefix("http://eye.test").replace("&amp;", "&"))

    assert page.status_code == 200
    shown = page_numbers(page.content.decode())
    numbers = digest.numbers
    assert numbers.events.current > 0 and numbers.refused.current + numbers.refused.previous > 0
    mailed = re.findall(r'data-stat="\d">([^<]*)<', digest.html)
    assert mailed == [shown["events"], shown["sessions"], shown["ratio"], shown["refused"]]
    assert [line.split(": ", 1)[1] for line in digest.text.splitlines()[3:7]] == [
        f"{number} ({change})" if change else number
        for number, change in zip(mailed, page_changes(page.content.decode()), strict=True)
    ]
    top = re.findall(
        r'<tr data-category="([^"]+)">.*?<td class="num">([\d,]+)</td>', page.content.decode(), re.S
    )
    assert [(row.category, f"{row.events:,}") for row in numbers.top_categories[:5]] == top[:5]


def test_the_periods_are_the_last_whole_day_and_week():
    daily = digest_period(frequency="daily", now=NOW)
    weekly = digest_period(frequency="weekly", now=NOW)
    assert (daily.start, daily.end, daily.previous_start) == (
        datetime(2026, 3, 17, tzinfo=UTC),
        datetime(2026, 3, 18, tzinfo=UTC),
        datetime(2026, 3, 16, tzinfo=UTC),
    )
    # NOW is a Wednesday: the last whole week ran from Monday the 9th to Monday the 16th.
    assert (weekly.start, weekly.end, weekly.previous_start) == (
        datetime(2026, 3, 9, tzinfo=UTC),
        datetime(2026, 3, 16, tzinfo=UTC),
        datetime(2026, 3, 2, tzinfo=UTC),
    )


def test_it_sends_each_digest_once_per_period_as_html_with_a_text_part(
    known, alice, web_app, mailoutbox
):
    bob = User.objects.create_user("bob", email="bob@example.com")
    nobody = User.objects.create_user("carol")
    digest_subscribe(user=alice, frequency="weekly", application=None)
    digest_subscribe(user=bob, frequency="daily", application=web_app.application)
    digest_subscribe(user=nobody, frequency="daily", application=None)

    assert digests_send(now=NOW) == 2
    assert digests_send(now=NOW + timedelta(hours=1)) == 0
    assert digests_send(now=NOW + timedelta(days=1)) == 1  # bob's next day; alice's week goes on

    to = sorted((message.to[0], message.subject.split(":")[0]) for message in mailoutbox)
    assert to == [
        ("alice@example.com", "[The Eye] Your week"),
        ("bob@example.com", "[The Eye] Your day"),
        ("bob@example.com", "[The Eye] Your day"),
    ]
    message = mailoutbox[0]
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "<table" in html
    assert "Events:" in message.body and "<" not in message.body.split("The same numbers")[0]


def test_a_digest_the_mail_server_refuses_goes_at_the_next_hour(known, alice, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    digest_subscribe(user=alice, frequency="weekly", application=None)

    assert digests_send(now=NOW) == 0
    assert DigestSubscription.objects.get().last_period_end is None


def test_unsubscribing_stops_the_digest(known, alice, mailoutbox):
    digest_subscribe(user=alice, frequency="weekly", application=None)
    digest_subscribe(user=alice, frequency=None, application=None)

    assert digests_send(now=NOW) == 0
    assert not DigestSubscription.objects.exists()


def test_two_workers_sending_at_once_send_each_digest_once(store, web_app, mailoutbox):
    users = [User.objects.create_user(f"u{i}", email=f"u{i}@example.com") for i in range(10)]
    for user in users:
        digest_subscribe(user=user, frequency="daily", application=None)
    start = threading.Barrier(2)
    sent: list[int] = []

    def worker() -> None:
        start.wait()
        try:
            sent.append(digests_send(now=NOW))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(sent) == len(users)
    assert sorted(message.to[0] for message in mailoutbox) == sorted(u.email for u in users)
