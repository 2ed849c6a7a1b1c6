"""Each kind of rule fires once when its condition starts to hold and resolves once when
it stops, on events posted through the API and stored by a real consumer, which also
delivers the notifications: signed webhooks to a real receiver, e-mail to a real SMTP
server."""

import uuid
from datetime import UTC, datetime, timedelta

from alerts.models import AlertRule, Notification
from alerts.services import alert_rule_save
from events.models import Event, Refusal
from events.rollups import Granularity
from tasks.tasks import alerts_check_run
from tests.alerts.conftest import PUBLIC_URL
from tests.support import wait_for

MINUTE = timedelta(minutes=1)
# Half an hour ago, on a minute: every event the tests post is in the past.
T = Granularity.MINUTE.floor(datetime.now(UTC)) - 30 * MINUTE


def event(at: datetime, *, category="form interaction", name="signup") -> dict:
    return {
        "session_id": str(uuid.uuid4()),
        "category": category,
        "name": name,
        "timestamp": at.isoformat(),
    }


def post(api, app, events: list[dict]) -> None:
    before = Event.objects.count()
    assert api.post(events, key=app.writer).status_code == 202
    assert wait_for(lambda: Event.objects.count() == before + len(events), timeout=20)


def rule(receiver, **values) -> AlertRule:
    saved = alert_rule_save(
        rule=None,
        values={"name": "the rule", "webhook_url": receiver.url, **values},
    )
    rule = saved.rule
    rule.shown_secret = saved.new_secret
    return rule


def check(at: datetime) -> None:
    alerts_check_run(now=at)


def delivered(receiver, count: int) -> list:
    assert wait_for(lambda: len(receiver.received) >= count, timeout=20)
    return receiver.received


def settled(receiver, smtp, *, hooks: int, mails: int = 0) -> None:
    """Exactly this many, also a moment later: nothing was sent twice."""
    assert wait_for(lambda: len(receiver.received) >= hooks and len(smtp.messages) >= mails)
    assert not wait_for(
        lambda: len(receiver.received) > hooks or len(smtp.messages) > mails, timeout=1.5
    )


def test_it_fires_and_resolves_an_hourly_count_above_a_threshold(
    api, web_app, alert_consumer, receiver, smtp
):
    above = rule(
        receiver,
        kind="events",
        category="form interaction",
        event_name="signup",
        application=web_app.application,
        period="hour",
        condition="above",
        threshold=3,
        emails=["team@example.com"],
    )
    post(api, web_app, [event(T - 30 * MINUTE + timedelta(seconds=i)) for i in range(5)])

    check(T - 40 * MINUTE)  # the hour before holds none of them
    check(T)
    settled(receiver, smtp, hooks=1, mails=1)
    check(T + MINUTE)  # still above: the same incident, nothing new
    check(T + 31 * MINUTE)  # the hour has moved past them
    settled(receiver, smtp, hooks=2, mails=2)

    fired, resolved = (hook.json for hook in receiver.received)
    assert all(hook.signed_with(above.shown_secret) for hook in receiver.received)
    assert (fired["event"], fired["value"], fired["threshold"], fired["incident"]) == (
        "fired",
        5,
        3,
        1,
    )
    assert (resolved["event"], resolved["value"], resolved["incident"]) == ("resolved", 0, 1)
    assert fired["rule"] == {"id": above.pk, "name": "the rule", "kind": "events"}
    assert fired["link"] == (
        f"{PUBLIC_URL}/name/?category=form+interaction&name=signup&app=web&range=7d"
    )
    assert smtp.subjects() == ["[The Eye] Firing: the rule", "[The Eye] Resolved: the rule"]
    assert smtp.messages[0]["To"] == "team@example.com"
    history = Notification.objects.filter(rule=above)
    assert sorted(history.values_list("event", "channel", "status")) == [
        ("fired", "email", "sent"),
        ("fired", "webhook", "sent"),
        ("resolved", "email", "sent"),
        ("resolved", "webhook", "sent"),
    ]
    above.refresh_from_db()
    assert (above.state, above.incident, above.last_value) == ("ok", 1, 0)


def test_it_fires_and_resolves_a_daily_count_below_a_threshold_in_slack_form(
    api, web_app, alert_consumer, receiver, smtp
):
    below = rule(
        receiver,
        kind="events",
        category="commerce",
        period="day",
        condition="below",
        threshold=3,
        webhook_format="slack",
    )
    check(T - 3 * 60 * MINUTE)  # nothing in the day before: below
    settled(receiver, smtp, hooks=1)
    post(api, web_app, [event(T - 2 * 60 * MINUTE, category="commerce", name="buy")] * 3)
    check(T - 2 * 60 * MINUTE + MINUTE)
    settled(receiver, smtp, hooks=2)

    fired, resolved = (hook.json for hook in receiver.received)
    assert all(hook.signed_with(below.shown_secret) for hook in receiver.received)
    assert set(fired) == {"text"}
    assert fired["text"].startswith("[FIRING] the rule: commerce per day below 3. Value 0,")
    assert resolved["text"].startswith("[RESOLVED] the rule: commerce per day below 3. Value 3,")


def test_it_fires_and_resolves_a_change_against_a_week_earlier(
    api, web_app, alert_consumer, receiver, smtp
):
    change = rule(
        receiver,
        kind="events",
        category="page interaction",
        event_name="pageview",
        condition="change",
        threshold=50,
    )
    week = timedelta(weeks=1)
    views = [event(T - week - 30 * MINUTE, category="page interaction", name="pageview")] * 10
    post(api, web_app, views)
    post(api, web_app, [event(T - 30 * MINUTE, category="page interaction", name="pageview")] * 2)

    check(T)
    settled(receiver, smtp, hooks=1)
    post(api, web_app, [event(T - 20 * MINUTE, category="page interaction", name="pageview")] * 8)
    check(T + MINUTE)
    settled(receiver, smtp, hooks=2)

    assert [hook.json["event"] for hook in receiver.received] == ["fired", "resolved"]
    assert [hook.json["value"] for hook in receiver.received] == [-80.0, 0.0]
    assert change.notifications.count() == 2


def test_it_fires_when_an_application_goes_silent_and_resolves_when_it_sends_again(
    api, mobile_app, alert_consumer, receiver, smtp
):
    silent = rule(
        receiver,
        kind="silence",
        application=mobile_app.application,
        threshold=5,
        emails=["oncall@example.com"],
    )
    post(api, mobile_app, [event(T - 2 * MINUTE)])

    check(T)  # an event two minutes ago: fine
    check(T + 4 * MINUTE)  # five whole minutes without one
    settled(receiver, smtp, hooks=1, mails=1)
    check(T + 5 * MINUTE)
    post(api, mobile_app, [event(T + 7 * MINUTE)])
    check(T + 8 * MINUTE)
    settled(receiver, smtp, hooks=2, mails=2)

    assert [hook.json["event"] for hook in receiver.received] == ["fired", "resolved"]
    assert [hook.json["value"] for hook in receiver.received] == [0, 1]
    assert receiver.received[0].json["link"] == f"{PUBLIC_URL}/?app=mobile&range=1h"
    assert "no events from mobile for 5 minutes" in smtp.messages[0].get_payload()
    assert all(hook.signed_with(silent.shown_secret) for hook in receiver.received)


def test_it_fires_and_resolves_on_refused_requests_of_one_reason(
    api, web_app, alert_consumer, receiver, smtp
):
    missing_name = {key: value for key, value in event(T).items() if key != "name"}
    for _ in range(3):
        assert api.post(missing_name, key=web_app.writer).status_code == 422
    future = event(datetime.now(UTC) + timedelta(hours=1))
    assert api.post(future, key=web_app.writer).status_code == 422
    assert wait_for(lambda: Refusal.objects.count() == 4, timeout=20)
    [reason] = Refusal.objects.order_by("created_at").first().reasons
    assert reason.startswith("name: ")
    refused = rule(receiver, kind="refusals", reason=reason, threshold=2)
    every_reason = rule(receiver, kind="refusals", threshold=3, webhook_url="")
    now = datetime.now(UTC)

    check(now + 2 * MINUTE)
    settled(receiver, smtp, hooks=1)
    check(now + 63 * MINUTE)
    settled(receiver, smtp, hooks=2)

    assert [hook.json["event"] for hook in receiver.received] == ["fired", "resolved"]
    assert [hook.json["value"] for hook in receiver.received] == [3, 0]
    assert all(hook.signed_with(refused.shown_secret) for hook in receiver.received)
    # Without the reason all four count, and four is above three.
    every_reason.refresh_from_db()
    assert (every_reason.incident, every_reason.state) == (1, "ok")


def test_it_sends_nothing_for_a_muted_rule_but_keeps_its_state(
    mobile_app, alert_consumer, receiver
):
    silent = rule(receiver, kind="silence", application=mobile_app.application, threshold=5)
    AlertRule.objects.filter(pk=silent.pk).update(muted=True)

    check(T)

    silent.refresh_from_db()
    assert (silent.state, silent.last_value) == ("firing", 0)
    assert not wait_for(lambda: receiver.attempts > 0, timeout=1.5)
    assert not Notification.objects.exists()
