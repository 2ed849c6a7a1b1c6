"""The periodic tasks: the alert check every minute, digests every hour, the history of
notifications pruned with retention, all thin calls of their services."""

from datetime import UTC, datetime, timedelta

from alerts.models import AlertRule, Notification
from tasks.tasks import check_alerts, enforce_retention, send_digests


def quiet_rule(web_app) -> AlertRule:
    """A rule that fires at its first check: no events at all, under a threshold of 5."""
    return AlertRule.objects.create(
        name="quiet",
        kind="silence",
        application=web_app.application,
        threshold=5,
        webhook_url="http://127.0.0.1:9/hook",
    )


def test_it_checks_alerts_every_minute_and_digests_every_hour():
    minutes = [datetime(2026, 3, 18, 14, minute, tzinfo=UTC) for minute in range(60)]
    assert all(check_alerts.s().validate_datetime(moment) for moment in minutes)
    assert [m.minute for m in minutes if send_digests.s().validate_datetime(m)] == [7]


def test_the_periodic_check_checks_every_rule_on_the_clock(web_app, huey):
    rule = quiet_rule(web_app)
    before = datetime.now(UTC)

    check_alerts.call_local()

    rule.refresh_from_db()
    assert rule.last_checked_at >= before and (rule.state, rule.last_value) == ("firing", 0)
    [notification] = Notification.objects.all()
    # Delivery is a task of its own, queued for a worker.
    [queued] = [huey.deserialize_task(raw) for raw in huey.storage.enqueued_items()]
    assert (queued.name, queued.args) == ("deliver_notification", (notification.pk,))


def test_the_retention_task_removes_notifications_older_than_the_setting(web_app, huey, settings):
    settings.EYE_NOTIFICATION_DAYS = 30
    rule = quiet_rule(web_app)
    now = datetime.now(UTC)
    for incident, age in enumerate((31, 30.9, 29, 0), start=1):
        created_at = now - timedelta(days=age)
        Notification.objects.create(
            rule=rule,
            incident=incident,
            event="fired",
            channel="webhook",
            target=rule.webhook_url,
            threshold=5,
            created_at=created_at,
            next_attempt_at=created_at,
            status="sent",
        )
    rule.state, rule.incident = "firing", 4
    rule.save()

    enforce_retention.call_local()

    assert sorted(Notification.objects.values_list("incident", flat=True)) == [3, 4]
    # The rule's state is its own: the check that follows sends nothing again.
    check_alerts.call_local()
    assert Notification.objects.count() == 2
