"""Admin → Alerts: rules are made, listed with their state, last value, threshold and a
sparkline, changed, muted and removed, each in the audit log; a webhook's secret is
shown once; the history shows every notification with its delivery result."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertRule, Notification
from alerts.services import alert_rules_check
from events.models import AuditEntry
from insights.models import Insight
from insights.services import insight_create

URL = reverse("dashboard:manage_alerts")

SILENCE = {
    "name": "web went quiet",
    "kind": "silence",
    "threshold": "5",
    "period": "hour",
    "condition": "above",
    "webhook_url": "http://127.0.0.1:9/hook",
    "webhook_format": "json",
}


def row_of(html: str, rule: AlertRule) -> str:
    return html.split(f'data-rule="{rule.pk}"')[1].split("</tr>")[0]


def test_it_creates_a_rule_and_shows_its_secret_once(as_bob, bob, web_app):
    response = as_bob.post(URL, {**SILENCE, "application": web_app.application.pk}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    rule = AlertRule.objects.get()
    assert (rule.kind, rule.application, rule.threshold, rule.created_by) == (
        "silence",
        web_app.application,
        5,
        bob,
    )
    html = response.content.decode()
    assert "no events from web for 5 minutes" in html
    assert re.search(r"[0-9a-f]{64}", rule.webhook_secret)
    assert rule.webhook_secret in html
    assert rule.webhook_secret not in as_bob.get(URL).content.decode()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ALERT_CREATED)
    assert entry.actor == bob and entry.target == "alert web went quiet"
    assert entry.details["rule"] == "no events from web for 5 minutes"
    assert rule.webhook_secret not in str(entry.details)


def test_it_creates_a_rule_on_a_saved_funnels_conversion(as_bob, bob):
    funnel = insight_create(
        owner=bob, kind="funnel", name="signups", query="step1=a%09b&step2=c%09d&window=3600"
    )
    values = {**SILENCE, "kind": "funnel", "insight": funnel.pk, "days": "3", "threshold": "20"}

    response = as_bob.post(URL, values, follow=True)

    rule = AlertRule.objects.get()
    assert (rule.kind, rule.insight, rule.days, rule.threshold, rule.condition) == (
        "funnel",
        funnel,
        3,
        20,
        "below",
    )
    assert "conversion of funnel “signups” over the last 3 days below 20%" in (
        response.content.decode()
    )
    assert as_bob.post(URL, {**values, "threshold": "101"}).status_code == 400
    edit = as_bob.get(reverse("dashboard:manage_alert", args=[rule.pk])).content.decode()
    assert f'<option value="{funnel.pk}" selected>signups</option>' in edit
    # A funnel saved with one step left: the page still lists the rule.
    Insight.objects.filter(pk=funnel.pk).update(query="step1=a%09b")
    assert "signups" in as_bob.get(URL).content.decode()


def test_it_refuses_an_internal_address_when_they_are_denied(as_bob, web_app, settings):
    settings.EYE_ALERT_WEBHOOK_PRIVATE = "deny"
    rule = {**SILENCE, "application": web_app.application.pk}

    refused = as_bob.post(URL, {**rule, "webhook_url": "http://10.1.2.3/hook"})
    # A name's addresses are checked when it is resolved, at delivery.
    taken = as_bob.post(URL, {**rule, "webhook_url": "http://hooks.example.com/hook"})

    assert refused.status_code == 400
    assert "A webhook may not reach 10.1.2.3, an internal address" in refused.content.decode()
    assert taken.status_code == 302


@pytest.mark.parametrize(
    ("values", "field", "error"),
    [
        ({"kind": "silence"}, "application", "Choose the application that must keep sending."),
        ({"kind": "events", "category": ""}, "category", "Name the category of events to count."),
        ({"kind": "silence", "threshold": "0"}, "threshold", "Minutes without events: 1 to"),
        ({"emails": "not-an-address"}, "emails", "is not an e-mail address."),
        ({"webhook_url": "", "emails": ""}, None, "Give an e-mail address or a webhook URL"),
        ({"threshold": "-1"}, "threshold", "greater than or equal to 0"),
        ({"webhook_url": "ftp://example.com/"}, "webhook_url", "is an http:// or https:// URL"),
        ({"webhook_url": "http://127.0.0.1:65536/"}, "webhook_url", "port is a number from 1"),
        ({"webhook_url": "http://[::1]:99999/"}, "webhook_url", "port is a number from 1"),
        ({"webhook_url": "http://127.0.0.1:0/"}, "webhook_url", "port is a number from 1"),
        (
            {"webhook_url": "http://169.254.169.254/latest/meta-data/"},
            "webhook_url",
            "may not reach 169.254.169.254, a cloud metadata address.",
        ),
        ({"kind": "funnel", "days": "7"}, "insight", "Choose the saved funnel to watch."),
        ({"kind": "funnel", "days": "91"}, "days", "less than or equal to 90"),
    ],
)
def test_it_refuses_an_incomplete_rule_naming_the_field(as_bob, db, values, field, error):
    response = as_bob.post(URL, {**SILENCE, **values})

    assert response.status_code == 400
    html = response.content.decode()
    assert error in html
    if field:
        assert f'id="id_{field}_error"' in html
    assert not AlertRule.objects.exists()


def test_it_lists_state_last_value_threshold_and_sparkline(as_bob, put, web_app, store):
    quiet = AlertRule.objects.create(
        name="quiet", kind="silence", application=web_app.application, threshold=5
    )
    busy = AlertRule.objects.create(
        name="busy",
        kind="events",
        category="page interaction",
        condition="above",
        threshold=2,
        emails=["team@example.com"],
    )
    for minutes in (50, 40, 30):
        put(web_app, timezone.now() - timedelta(minutes=minutes))
    alert_rules_check(now=timezone.now())
    AlertRule.objects.filter(pk=quiet.pk).update(muted=True)

    html = as_bob.get(URL).content.decode()

    quiet_row, busy_row = row_of(html, quiet), row_of(html, busy)
    assert 'data-state="muted"' in quiet_row and ">muted</span>" in quiet_row
    assert '>firing</span> <span class="small">since' in quiet_row
    assert 'data-state="firing"' in busy_row and '<td class="num" data-value>3</td>' in busy_row
    assert '<td class="num">2</td>' in busy_row
    assert "<polyline" in busy_row and 'aria-label="Recent values: ' in busy_row
    assert 'href="/category/?category=page+interaction&amp;range=7d"' in busy_row
    assert "page interaction per hour above 2" in busy_row


def test_a_funnel_rule_shows_how_long_its_last_check_took(as_bob, bob):
    funnel = insight_create(
        owner=bob, kind="funnel", name="signups", query="step1=a%09b&step2=c%09d&window=3600"
    )
    rule = AlertRule.objects.create(
        name="slow", kind="funnel", insight=funnel, days=30, threshold=5
    )
    unchecked = row_of(as_bob.get(URL).content.decode(), rule)
    AlertRule.objects.filter(pk=rule.pk).update(
        last_checked_at=timezone.now(), check_seconds=12.34, sparkline_kept=[1.0, 2.0]
    )

    checked = row_of(as_bob.get(URL).content.decode(), rule)

    assert "not yet" in unchecked and "took" not in unchecked
    assert "took 12.3 s" in checked
    assert 'aria-label="Recent values: 1.0, 2.0"' in checked


def test_it_shows_the_history_with_delivery_results(as_bob, web_app):
    rule = AlertRule.objects.create(
        name="quiet", kind="silence", application=web_app.application, threshold=5
    )
    now = timezone.now()
    sent = Notification.objects.create(
        rule=rule,
        incident=1,
        event="fired",
        channel="webhook",
        target="http://x.test/hook",
        value=0,
        threshold=5,
        created_at=now,
        next_attempt_at=now,
        status="sent",
        attempts=1,
        result="HTTP 200",
        delivered_at=now,
    )
    failed = Notification.objects.create(
        rule=rule,
        incident=1,
        event="fired",
        channel="email",
        target="a@example.com",
        value=0,
        threshold=5,
        created_at=now,
        next_attempt_at=now,
        status="failed",
        attempts=5,
        result="attempt 5: mail not taken: refused",
    )

    for url in (URL, reverse("dashboard:manage_alert", args=[rule.pk])):
        html = as_bob.get(url).content.decode()
        sent_row = html.split(f'data-notification="{sent.pk}"')[1].split("</tr>")[0]
        failed_row = html.split(f'data-notification="{failed.pk}"')[1].split("</tr>")[0]
        assert 'badge-good">sent' in sent_row and "HTTP 200" in sent_row
        assert 'badge-failed">failed' in failed_row and "mail not taken" in failed_row
        assert '<td class="num">5</td>' in failed_row


def test_it_changes_a_rule_and_can_make_a_new_secret(as_bob, bob, web_app):
    as_bob.post(URL, {**SILENCE, "application": web_app.application.pk})
    rule = AlertRule.objects.get()
    old_secret = rule.webhook_secret
    url = reverse("dashboard:manage_alert", args=[rule.pk])

    as_bob.post(url, {**SILENCE, "application": web_app.application.pk, "threshold": "10"})
    rule.refresh_from_db()
    assert (rule.threshold, rule.webhook_secret) == (10, old_secret)
    response = as_bob.post(
        url,
        {**SILENCE, "application": web_app.application.pk, "threshold": "10", "new_secret": "on"},
        follow=True,
    )
    rule.refresh_from_db()
    assert rule.webhook_secret != old_secret
    assert rule.webhook_secret in response.content.decode()
    changes = AuditEntry.objects.filter(action=AuditEntry.Action.ALERT_CHANGED)
    assert [entry.details["new_secret"] for entry in changes.order_by("id")] == [False, True]


def test_it_mutes_and_unmutes_in_the_audit_log(as_bob, bob, web_app):
    rule = AlertRule.objects.create(
        name="quiet", kind="silence", application=web_app.application, threshold=5
    )
    mute = reverse("dashboard:manage_alert_mute", args=[rule.pk])

    response = as_bob.post(mute, {"muted": "on"}, follow=True)
    assert "muted: it is still checked, and sends nothing" in response.content.decode()
    rule.refresh_from_db()
    assert rule.muted
    as_bob.post(mute, {"muted": "off"})
    rule.refresh_from_db()
    assert not rule.muted
    assert list(
        AuditEntry.objects.filter(target="alert quiet")
        .order_by("id")
        .values_list("action", "actor")
    ) == [("alert.muted", bob.pk), ("alert.unmuted", bob.pk)]


def test_it_removes_a_rule_after_confirmation(as_bob, bob, web_app):
    rule = AlertRule.objects.create(
        name="quiet", kind="silence", application=web_app.application, threshold=5
    )
    url = reverse("dashboard:manage_alert_remove", args=[rule.pk])

    page = as_bob.get(url).content.decode()
    assert "Remove the alert “quiet”?" in page and "no events from web for 5 minutes" in page
    assert AlertRule.objects.exists()
    as_bob.post(url)
    assert not AlertRule.objects.exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ALERT_REMOVED)
    assert entry.actor == bob and entry.details["rule"] == "no events from web for 5 minutes"
    assert "Alert removed" in as_bob.get(reverse("dashboard:manage_audit")).content.decode()


def test_a_rule_whose_funnel_was_deleted_is_shown_as_not_checked(as_bob, bob, caplog):
    funnel = insight_create(
        owner=bob, kind="funnel", name="signups", query="step1=a%09b&step2=c%09d&window=3600"
    )
    rule = AlertRule.objects.create(name="r", kind="funnel", insight=funnel, days=1, threshold=10)
    funnel.delete()

    outcome = alert_rules_check(now=timezone.now())

    assert outcome.failed == 1
    rule.refresh_from_db()
    assert rule.last_error == "RuleUncheckable: its saved funnel was deleted"
    # Something for staff to change, not a fault of the program: no traceback.
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    page = as_bob.get(URL).content.decode()
    assert 'data-state="unchecked">not checked</span>' in page
    assert "its saved funnel was deleted" in page
