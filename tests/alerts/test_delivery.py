"""A receiver that answers 500, or does not answer at all, is tried again with backoff and
then recorded as failed; meanwhile the check, and the other rules' notifications, go on."""

import time
from datetime import UTC, datetime

import pytest

from alerts import kinds
from alerts.delivery import notification_deliver, retry_delay
from alerts.models import AlertRule, Notification
from alerts.services import alert_rule_save, alert_rules_check
from tasks.tasks import alerts_check_run
from tests.alerts.support import RawReceiver, WebhookReceiver, headers_drip
from tests.support import wait_for


def silent_rule(app, url: str, name: str) -> AlertRule:
    values = {
        "name": name,
        "kind": "silence",
        "application": app.application,
        "threshold": 5,
        "webhook_url": url,
    }
    return alert_rule_save(rule=None, values=values).rule


@pytest.fixture
def healthy():
    server = WebhookReceiver()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("status", "delay", "result"), [(500, 0, "HTTP 500"), (200, 5, "no answer")]
)
def test_it_retries_a_failing_receiver_then_records_the_failure(
    web_app, mobile_app, alert_consumer, receiver, healthy, status, delay, result
):
    receiver.status, receiver.delay = status, delay
    failing = silent_rule(web_app, receiver.url, "failing")
    fine = silent_rule(mobile_app, healthy.url, "fine")

    started = time.monotonic()
    alerts_check_run(now=datetime.now(UTC))
    # The check only records what to send: a slow receiver holds it up not at all.
    assert time.monotonic() - started < 1

    assert wait_for(lambda: len(healthy.received) == 1, timeout=10)
    notification = Notification.objects.get(rule=failing)
    assert wait_for(
        lambda: Notification.objects.get(pk=notification.pk).status == "failed", timeout=30
    )
    notification.refresh_from_db()
    assert notification.attempts == 3 and receiver.attempts == 3
    assert notification.result.startswith(f"attempt 3: {result}")
    assert notification.delivered_at is None
    assert Notification.objects.get(rule=fine).status == "sent"


def test_it_backs_off_between_attempts(settings):
    settings.EYE_ALERT_RETRY_SECONDS = 30
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]


def test_it_checks_the_other_rules_when_one_fails(web_app, mobile_app, monkeypatch, receiver):
    broken = silent_rule(web_app, receiver.url, "broken")
    fine = silent_rule(mobile_app, receiver.url, "fine")

    class Broken(kinds.Silence):
        def measure(self, rule, *, now):
            if rule.pk == broken.pk:
                raise RuntimeError("the rollup is gone")
            return super().measure(rule, now=now)

    monkeypatch.setitem(kinds.KINDS, AlertRule.Kind.SILENCE, Broken())
    outcome = alert_rules_check(now=datetime.now(UTC))

    assert (outcome.checked, outcome.failed) == (1, 1)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.last_error == "RuntimeError: the rollup is gone"
    assert (fine.state, fine.last_error) == ("firing", "")
    assert outcome.due == [Notification.objects.get(rule=fine).pk]


def test_a_receiver_that_drips_its_answer_holds_an_attempt_only_to_its_limit(web_app, settings):
    """A socket timeout bounds each read, and a receiver sending a header line every
    0.2 s never trips it: such an attempt held a worker, one that stores events, for
    minutes."""
    settings.EYE_ALERT_WEBHOOK_TIMEOUT = 1
    receiver = RawReceiver(headers_drip)
    try:
        silent_rule(web_app, receiver.url, "dripped on")
        [notification_id] = alert_rules_check(now=datetime.now(UTC)).due
        # The receiver would go on for a minute.
        attempt = notification_deliver(notification_id=notification_id)
    finally:
        receiver.close()
    assert attempt is not None and attempt.status == "pending"
    notification = Notification.objects.get(pk=notification_id)
    assert notification.attempts == 1
    assert notification.result == "attempt 1: no answer within 1 s"


def test_a_fault_of_ours_is_a_failed_attempt_that_ends_like_the_others(
    web_app, settings, monkeypatch
):
    import alerts.delivery

    def broken(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(alerts.delivery, "webhook_post", broken)
    settings.EYE_ALERT_DELIVERY_ATTEMPTS = 2
    silent_rule(web_app, "http://127.0.0.1:9/hook", "broken")
    [notification_id] = alert_rules_check(now=datetime.now(UTC)).due

    first = notification_deliver(notification_id=notification_id)
    assert first is not None and first.status == "pending"
    Notification.objects.filter(pk=notification_id).update(next_attempt_at=datetime.now(UTC))
    second = notification_deliver(notification_id=notification_id)

    assert second is not None and second.status == "failed"
    notification = Notification.objects.get(pk=notification_id)
    assert notification.result == "attempt 2: could not be sent: RuntimeError"
