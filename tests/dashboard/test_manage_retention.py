"""Retention: a rule is previewed (how many events it would remove now) before it is
saved; rules are listed and removed; the last run is shown, and can be started now."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import AuditEntry, RetentionRule, RetentionRun
from tests.dashboard.support import raw_one

URL = reverse("dashboard:manage_retention")


@pytest.fixture
def aged(put, web_app, mobile_app) -> None:
    """Events of known ages against the real clock, which retention follows: web has 3
    events 40 days old, 2 of 20 days and 1 of a day; mobile 2 of 40 days (one a purchase)
    and 1 of a day."""
    now = timezone.now()
    for days, count in ((40, 3), (20, 2), (1, 1)):
        for _ in range(count):
            put(web_app, now - timedelta(days=days))
    put(mobile_app, now - timedelta(days=40), category="commerce", name="purchase")
    put(mobile_app, now - timedelta(days=40))
    put(mobile_app, now - timedelta(days=1))


def would_remove(response) -> int:
    html = response.content.decode()
    return int(html.split('data-stat="would-remove">')[1].split("<")[0].replace(",", ""))


@pytest.mark.parametrize(
    ("rule", "removed"),
    [
        ({"days": "30"}, 5),
        ({"days": "10"}, 7),
        ({"days": "400"}, 0),
        ({"application": "web", "days": "15"}, 5),
        ({"application": "mobile", "days": "30"}, 2),
        ({"category": "commerce", "days": "30"}, 1),
        ({"application": "web", "category": "commerce", "days": "1"}, 0),
    ],
)
def test_it_previews_how_many_events_a_rule_would_remove_now(
    as_bob, aged, web_app, mobile_app, rule, removed
):
    apps = {"web": web_app.application.pk, "mobile": mobile_app.application.pk}
    data = {**rule, "application": apps.get(rule.get("application", ""), "")}

    response = as_bob.post(URL, data)

    assert response.status_code == 200
    assert would_remove(response) == removed
    assert response.context["preview"].removed == removed
    # Only a preview: nothing is saved yet.
    assert not RetentionRule.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.RETENTION_SAVED).exists()
    assert ">Confirm and save</button>" in response.content.decode()


def test_it_previews_a_global_rule_without_the_events_a_closer_rule_keeps(as_bob, aged, web_app):
    RetentionRule.objects.create(application=web_app.application, days=100)

    response = as_bob.post(URL, {"days": "30"})

    # web's old events follow web's own rule of 100 days; only mobile's two go.
    assert would_remove(response) == 2


def test_it_saves_the_rule_on_confirmation(as_bob, bob, aged, web_app):
    data = {"application": web_app.application.pk, "category": "page interaction", "days": "30"}
    preview = as_bob.post(URL, data).content.decode()
    # The Confirm form carries the same values, and confirm=yes.
    confirm_form = preview.split('class="form-actions">')[1].split("</form>")[0]
    assert f'name="application" value="{web_app.application.pk}"' in confirm_form
    assert 'name="days" value="30"' in confirm_form
    assert 'name="confirm" value="yes"' in confirm_form

    response = as_bob.post(URL, {**data, "confirm": "yes"}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    rule = RetentionRule.objects.get()
    assert (rule.application, rule.category, rule.days) == (
        web_app.application,
        "page interaction",
        30,
    )
    html = response.content.decode()
    assert "Retention rule saved: application web, category page interaction, kept 30 days." in html
    row = html.split(f'data-rule="{rule.pk}"')[1].split("</tr>")[0]
    assert "<td>web</td>" in row and "<td>page interaction</td>" in row
    assert '<td class="num" data-days="30">30 days</td>' in row
    assert AuditEntry.objects.get(action=AuditEntry.Action.RETENTION_SAVED).actor == bob


@pytest.mark.parametrize("rule", ["\u00b2", "9" * 5000, "99999999999999999999", "0", "x"])
def test_a_change_link_to_no_rule_it_can_read_shows_the_empty_form(as_bob, rule):
    RetentionRule.objects.create(days=90)

    response = as_bob.get(URL, {"rule": rule})

    assert response.status_code == 200
    assert 'name="days" value="90"' not in response.content.decode()


def test_it_changes_the_rule_of_the_same_scope(as_bob, aged):
    RetentionRule.objects.create(days=90)
    rule = RetentionRule.objects.get()
    prefilled = as_bob.get(URL, {"rule": rule.pk}).content.decode()
    assert 'name="days" value="90"' in prefilled

    preview = as_bob.post(URL, {"days": "30"})
    assert "instead of the 90 days of the rule it replaces" in preview.content.decode()
    as_bob.post(URL, {"days": "30", "confirm": "yes"})

    rule.refresh_from_db()
    assert rule.days == 30
    assert RetentionRule.objects.count() == 1


@pytest.mark.parametrize(
    ("days", "error"),
    [("0", "greater than or equal to 1"), ("", "This field is required."), ("x", "whole number")],
)
def test_it_shows_form_errors_inline_and_saves_nothing(as_bob, db, days, error):
    response = as_bob.post(URL, {"days": days, "confirm": "yes"})

    assert response.status_code == 400
    html = response.content.decode()
    assert error in html.split('id="id_days_error">')[1].split("</p>")[0]
    assert response.context["preview"] is None
    assert not RetentionRule.objects.exists()


def test_it_removes_a_rule_after_confirmation(as_bob, bob, db):
    rule = RetentionRule.objects.create(days=90)
    url = reverse("dashboard:manage_retention_remove", args=[rule.pk])

    confirm = as_bob.get(url).content.decode()
    assert ">Remove rule</button>" in confirm
    assert "kept for ever" in confirm
    assert RetentionRule.objects.exists()

    response = as_bob.post(url, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert not RetentionRule.objects.exists()
    assert "Retention rule removed: every event." in response.content.decode()
    assert AuditEntry.objects.get(action=AuditEntry.Action.RETENTION_REMOVED).actor == bob


def test_it_shows_the_last_run_and_what_it_removed(as_bob, db):
    started = timezone.now() - timedelta(minutes=10)
    RetentionRun.objects.create(started_at=started - timedelta(days=1), removed=3)
    RetentionRun.objects.create(
        started_at=started,
        finished_at=started + timedelta(seconds=4),
        removed=1234,
        details=[{"scope": "every event", "days": 30, "removed": 1234}],
    )

    html = as_bob.get(URL).content.decode()

    assert '<dd data-stat="removed">1,234</dd>' in html
    assert started.strftime("%Y-%m-%d %H:%M:%S") in html
    assert '<tr><td>every event</td><td class="num">30</td><td class="num">1,234</td></tr>' in html


def test_it_says_when_retention_never_ran(as_bob, db):
    assert "Retention has not run yet." in as_bob.get(URL).content.decode()


def test_it_runs_retention_now_in_the_worker(as_bob, aged, drain):
    RetentionRule.objects.create(days=30)

    response = as_bob.post(reverse("dashboard:manage_retention_run"), follow=True)
    assert "Retention will run in the worker" in response.content.decode()
    assert drain() == 1

    run = RetentionRun.objects.get()
    assert run.removed == 5 and run.finished_at is not None and not run.error
    assert raw_one("SELECT count(*) FROM events") == 4
    assert '<dd data-stat="removed">5</dd>' in as_bob.get(URL).content.decode()
