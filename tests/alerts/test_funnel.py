"""A rule on a saved funnel's conversion over the last N days: it fires once when the
conversion goes below the threshold and resolves once when it is back, on events posted
through the API and stored by a real consumer, which delivers signed webhooks to a real
receiver; its numbers are the Funnels page's."""

import uuid
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.kinds import KINDS, rule_describe
from alerts.models import AlertRule
from alerts.selectors import alert_rule_rows
from alerts.services import (
    alert_rule_evaluate,
    alert_rule_save,
    alert_rules_check,
    alert_rules_due,
    raw_rules_spacing,
)
from events.funnels import FunnelStep, funnel_compute
from events.rollups import Granularity
from insights.forms import kind_value
from insights.services import insight_create
from tests.alerts.conftest import PUBLIC_URL
from tests.alerts.test_check import MINUTE, T, check, post, rule, settled
from tests.dashboard.support import Put

DAY = timedelta(days=1)
VISIT = ("page interaction", "visit")
SIGNUP = ("form interaction", "signup")


@pytest.fixture
def funnel(db):
    owner = User.objects.create_user("owner")
    query = urlencode(
        {"range": "30d", "step1": kind_value(*VISIT), "step2": kind_value(*SIGNUP), "window": 3600}
    )
    return insight_create(owner=owner, kind="funnel", name="signups", query=query)


def sessions(at, *, entered: int, converted: int) -> list[dict]:
    """`entered` sessions with a visit at `at`, of which `converted` sign up a minute on."""
    events = []
    for i in range(entered):
        session = str(uuid.uuid4())
        steps = [VISIT, SIGNUP] if i < converted else [VISIT]
        for n, (category, name) in enumerate(steps):
            events.append(
                {
                    "session_id": session,
                    "category": category,
                    "name": name,
                    "timestamp": (at + n * MINUTE + timedelta(seconds=i)).isoformat(),
                }
            )
    return events


def test_it_fires_and_resolves_on_a_funnels_conversion_below_a_threshold(
    api, web_app, funnel, alert_consumer, receiver, smtp
):
    watched = rule(receiver, kind="funnel", insight=funnel, days=1, threshold=50)
    post(api, web_app, sessions(T - 3 * DAY + 30 * MINUTE, entered=4, converted=1))
    post(api, web_app, sessions(T - 30 * MINUTE, entered=4, converted=4))

    check(T - 3 * DAY - MINUTE)  # nobody entered yet: an idle funnel does not fire
    check(T - 2 * DAY)  # 1 of 4 converted
    settled(receiver, smtp, hooks=1)
    check(T - 2 * DAY + 5 * MINUTE)  # still below: the same incident
    check(T)  # the last day holds only the 4 of 4
    settled(receiver, smtp, hooks=2)
    check(T + MINUTE)
    settled(receiver, smtp, hooks=2)

    fired, resolved = (hook.json for hook in receiver.received)
    assert all(hook.signed_with(watched.shown_secret) for hook in receiver.received)
    assert (fired["event"], fired["value"], fired["threshold"], fired["incident"]) == (
        "fired",
        25,
        50,
        1,
    )
    assert (resolved["event"], resolved["value"], resolved["incident"]) == ("resolved", 100, 1)
    assert fired["rule"] == {"id": watched.pk, "name": "the rule", "kind": "funnel"}
    assert fired["link"].startswith(f"{PUBLIC_URL}/funnels/?")
    assert "range=24h" in fired["link"] and "step2=form+interaction%09signup" in fired["link"]
    watched.refresh_from_db()
    assert (watched.state, watched.incident, watched.last_value) == ("ok", 1, 100)


def test_its_value_is_the_funnels_conversion_over_the_days_before_the_check(web_app, funnel):
    put = Put()
    # Three sessions enter, two sign up; a signup without a visit does not count.
    steps = [(1, VISIT), (1, SIGNUP), (2, VISIT), (2, SIGNUP), (3, VISIT), (4, SIGNUP)]
    for i, (session, (category, name)) in enumerate(steps):
        at = T - timedelta(hours=5) + i * MINUTE
        put(web_app, at, category=category, name=name, session=uuid.UUID(int=session))
    watched = AlertRule(kind="funnel", insight=funnel, days=2, threshold=60)

    measure = KINDS["funnel"].measure(watched, now=T + timedelta(seconds=30))
    page = funnel_compute(
        steps=[FunnelStep(*VISIT), FunnelStep(*SIGNUP)],
        start=measure.start,
        end=measure.end,
        window=timedelta(hours=1),
    )

    assert (measure.start, measure.end) == (T - 2 * DAY, T)
    assert measure.value == round(page.steps[-1].conversion * 100, 1) == 66.7
    assert not KINDS["funnel"].holds(watched, measure.value)
    assert rule_describe(watched) == (
        "conversion of funnel “signups” over the last 2 days below 60%"
    )


def test_a_rule_whose_funnel_was_deleted_says_so_when_checked(web_app, funnel):
    watched = AlertRule.objects.create(
        name="r", kind="funnel", insight=funnel, days=1, threshold=10
    )
    funnel.delete()
    watched.refresh_from_db()

    with pytest.raises(ValueError, match="its saved funnel was deleted"):
        KINDS["funnel"].measure(watched, now=T)
    assert rule_describe(watched).startswith("conversion of funnel (deleted)")


def conversions(web_app, at, *, entered: int, converted: int) -> None:
    put = Put()
    for event in sessions(at, entered=entered, converted=converted):
        put(
            web_app,
            datetime.fromisoformat(event["timestamp"]),
            category=event["category"],
            name=event["name"],
            session=event["session_id"],
        )


def test_the_page_shows_the_sparkline_its_last_check_drew_without_computing_a_funnel(
    web_app, funnel
):
    now = timezone.now()
    conversions(web_app, now - DAY, entered=2, converted=2)
    watched = AlertRule.objects.create(
        name="r", kind="funnel", insight=funnel, days=7, threshold=10
    )
    alert_rules_check(now=now)
    end = Granularity.DAY.floor(now) + DAY
    trend = funnel_compute(
        steps=[FunnelStep(*VISIT), FunnelStep(*SIGNUP)],
        start=end - 14 * DAY,
        end=end,
        window=timedelta(hours=1),
    ).trend
    drawn = {day.day: day.conversion * 100 for day in trend}
    # Two more sessions that day, neither signs up: a page that computed would show 50.
    conversions(web_app, now - DAY + 5 * MINUTE, entered=2, converted=0)

    with CaptureQueriesContext(connection) as queries:
        [row] = alert_rule_rows(now=now + MINUTE)

    assert row.rule == watched
    assert len(row.sparkline) == 14 and sum(value > 0 for value in row.sparkline) == 1
    assert row.sparkline == [
        drawn.get(day, 0.0) for day in Granularity.DAY.buckets(start=end - 14 * DAY, end=end)
    ]
    assert max(row.sparkline) == 100.0
    assert not any('"events"' in query["sql"] for query in queries.captured_queries)


def test_a_funnel_rule_is_checked_again_once_ten_times_its_last_check_has_passed(web_app, funnel):
    now = Granularity.MINUTE.floor(timezone.now())
    conversions(web_app, now - 2 * 60 * MINUTE, entered=2, converted=1)
    watched = AlertRule.objects.create(
        name="r", kind="funnel", insight=funnel, days=1, threshold=10
    )
    alert_rules_check(now=now)
    watched.refresh_from_db()
    assert watched.last_checked_at == now and watched.last_value == 50
    assert watched.check_seconds > 0 and len(watched.sparkline_kept) == 14
    # As if the check had taken 30 s: the funnel waits 300 s for its next one.
    AlertRule.objects.filter(pk=watched.pk).update(check_seconds=30, updated_at=now - 60 * MINUTE)
    conversions(web_app, now - 60 * MINUTE, entered=2, converted=2)

    alert_rules_check(now=now + 4 * MINUTE)
    watched.refresh_from_db()
    assert (watched.last_checked_at, watched.last_value) == (now, 50)

    alert_rules_check(now=now + 5 * MINUTE)
    watched.refresh_from_db()
    assert (watched.last_checked_at, watched.last_value) == (now + 5 * MINUTE, 75)


def test_rollup_rules_come_first_then_funnels_by_their_turn(web_app, funnel):
    now = timezone.now()
    long_ago = now - 60 * MINUTE
    first, second = (
        AlertRule.objects.create(name=name, kind="funnel", insight=funnel, days=1, threshold=10)
        for name in ("first", "second")
    )
    counted = AlertRule.objects.create(
        name="counted", kind="events", category="page interaction", threshold=1
    )
    # Together they took 30 s: each waits 300 s after its last check.
    AlertRule.objects.filter(pk=first.pk).update(
        check_seconds=20, last_checked_at=now - 4 * MINUTE, updated_at=long_ago
    )
    AlertRule.objects.filter(pk=second.pk).update(
        check_seconds=10, last_checked_at=now - MINUTE, updated_at=long_ago
    )

    assert raw_rules_spacing() == timedelta(seconds=300)
    assert alert_rules_due(now=now) == [counted.pk]
    assert alert_rules_due(now=now + MINUTE) == [counted.pk, first.pk]
    assert alert_rules_due(now=now + 4 * MINUTE) == [counted.pk, first.pk, second.pk]
    # A clock behind the last check (another worker's) does not keep a rule waiting.
    assert alert_rules_due(now=now - 5 * MINUTE) == [counted.pk, first.pk, second.pk]

    # Changed from a copy read before its last check: the change is saved, the check's
    # findings are kept, and its turn comes at once.
    alert_rule_save(rule=second, values={"threshold": 20})
    second.refresh_from_db()
    assert (second.threshold, second.check_seconds) == (20, 10)
    assert second.last_checked_at == now - MINUTE
    assert alert_rules_due(now=now) == [counted.pk, second.pk]
    AlertRule.objects.filter(pk=first.pk).update(last_checked_at=None)
    assert alert_rules_due(now=now) == [counted.pk, first.pk, second.pk]


def test_a_funnel_rule_another_workers_round_has_just_measured_is_passed_by(web_app, funnel):
    now = Granularity.MINUTE.floor(timezone.now())
    watched = AlertRule.objects.create(
        name="r", kind="funnel", insight=funnel, days=1, threshold=10
    )
    AlertRule.objects.filter(pk=watched.pk).update(updated_at=now - 60 * MINUTE)
    # Two rounds queued by two workers' schedulers both list the rule as due…
    assert alert_rules_due(now=now) == [watched.pk]
    # …and the first measures it, a check that took 30 s, while the second waits.
    alert_rules_check(now=now)
    AlertRule.objects.filter(pk=watched.pk).update(check_seconds=30, last_value=-1)

    assert alert_rule_evaluate(rule_id=watched.pk, now=now + timedelta(seconds=2)) == []
    watched.refresh_from_db()
    assert (watched.last_checked_at, watched.last_value) == (now, -1)
