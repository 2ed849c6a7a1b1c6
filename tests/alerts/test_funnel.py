"""A rule on a saved funnel's conversion over the last N days: it fires once when the
conversion goes below the threshold and resolves once when it is back, on events posted
through the API and stored by a real consumer, which delivers signed webhooks to a real
receiver; its numbers are the Funnels page's."""

import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User

from alerts.kinds import KINDS, rule_describe
from alerts.models import AlertRule
from events.funnels import FunnelStep, funnel_compute
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
