"""One incident, one notification: also when checks run at the same time in two
workers, and when a check dies half-way."""

import threading
from datetime import UTC, datetime

from django.db import connection, transaction
from huey.contrib.djhuey import HUEY

from alerts.models import AlertRule, Notification
from alerts.services import alert_rule_save, alert_rules_check
from tasks.tasks import check_alerts
from tests.support import start_consumer, stop_process, wait_for


def silent_rules(app, url: str, count: int) -> list[AlertRule]:
    return [
        alert_rule_save(
            rule=None,
            values={
                "name": f"silent {i}",
                "kind": "silence",
                "application": app.application,
                "threshold": 5,
                "webhook_url": url,
                "emails": ["oncall@example.com"],
            },
        ).rule
        for i in range(count)
    ]


def test_two_checks_at_the_same_instant_notify_once(store, web_app, receiver):
    rules = silent_rules(web_app, receiver.url, 20)
    now = datetime.now(UTC)
    start = threading.Barrier(2)
    due: list[list[int]] = []

    def worker() -> None:
        start.wait()
        try:
            due.append(alert_rules_check(now=now).due)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(pk for ids in due for pk in ids) == sorted(
        Notification.objects.values_list("pk", flat=True)
    )
    assert Notification.objects.count() == 2 * len(rules)
    assert set(AlertRule.objects.values_list("state", "incident")) == {("firing", 1)}


def test_two_consumers_running_the_check_send_one_notification(
    store, web_app, receiver, delivery_env
):
    [rule] = silent_rules(web_app, receiver.url, 1)
    consumers = [start_consumer(periodic=False), start_consumer(periodic=False)]
    try:
        # The periodic task, queued four times, as two schedulers a minute apart would.
        for _ in range(4):
            check_alerts()
        assert wait_for(lambda: HUEY.pending_count() == 0, timeout=20)
        assert wait_for(lambda: len(receiver.received) == 1, timeout=20)
        assert not wait_for(lambda: len(receiver.received) > 1, timeout=2)
    finally:
        for consumer in consumers:
            stop_process(consumer)
    rule.refresh_from_db()
    assert (rule.state, rule.incident) == ("firing", 1)
    assert Notification.objects.filter(channel="webhook").count() == 1


def test_a_check_that_dies_half_way_leaves_the_incident_to_the_next(store, web_app, receiver):
    [rule] = silent_rules(web_app, receiver.url, 1)
    now = datetime.now(UTC)
    holding, release = threading.Event(), threading.Event()

    def dying_check() -> None:
        # A check that has locked the rule and has not committed yet, then dies.
        try:
            with transaction.atomic():
                AlertRule.objects.select_for_update().get(pk=rule.pk)
                AlertRule.objects.filter(pk=rule.pk).update(state="firing", incident=1)
                holding.set()
                release.wait(10)
                raise RuntimeError("worker killed")
        except RuntimeError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=dying_check)
    thread.start()
    assert holding.wait(10)
    # Meanwhile another worker's check passes the locked rule by.
    assert alert_rules_check(now=now).due == []
    release.set()
    thread.join()

    rule.refresh_from_db()
    assert (rule.state, rule.incident) == ("ok", 0)
    outcome = alert_rules_check(now=now)
    rule.refresh_from_db()
    assert (rule.state, rule.incident) == ("firing", 1)
    assert len(outcome.due) == 2
    assert alert_rules_check(now=now).due == []
