"""Who may use the Admin area: staff only. A viewer gets 403 on every page and every
action, and changes nothing; an anonymous visitor is sent to the login page."""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, reverse

from alerts.models import AlertRule
from dashboard import urls as dashboard_urls
from events.models import (
    ApiKey,
    AuditEntry,
    DeletionRequest,
    EventSchema,
    RetentionRule,
    TrackedKey,
)
from tests.dashboard.support import SESSION_A


@dataclass
class Objects:
    application_id: int
    key_id: int
    rule_id: int
    schema_id: int
    alert_id: int = 1
    tracked_key_id: int = 1


@pytest.fixture
def objects(web_app) -> Objects:
    rule = RetentionRule.objects.create(days=90)
    schema = EventSchema.objects.create(
        category="page interaction", name="pageview", schema={"type": "object"}
    )
    alert = AlertRule.objects.create(
        name="silent", kind="silence", application=web_app.application, threshold=5
    )
    tracked = TrackedKey.objects.create(key="path")
    return Objects(
        tracked_key_id=tracked.pk,
        application_id=web_app.application.pk,
        key_id=web_app.stored(web_app.both).pk,
        rule_id=rule.pk,
        schema_id=schema.pk,
        alert_id=alert.pk,
    )


# Every Admin route: how to reach it, whether it has a page to GET, and a POST body that
# would do something real if the sender were allowed to.
ROUTES = {
    "manage_applications": (lambda o: reverse("dashboard:manage_applications"), {"name": "x"}),
    "manage_application": (
        lambda o: reverse("dashboard:manage_application", args=[o.application_id]),
        {},
    ),
    "manage_key_issue": (
        lambda o: reverse("dashboard:manage_key_issue", args=[o.application_id]),
        {"issue-can_read": "on"},
    ),
    "manage_publishable_issue": (
        lambda o: reverse("dashboard:manage_publishable_issue", args=[o.application_id]),
        {"publishable-origins": "https://shop.example.com"},
    ),
    "manage_key": (
        lambda o: reverse("dashboard:manage_key", args=[o.key_id]),
        {"can_read": "on", "rate_limit_per_minute": "5"},
    ),
    "manage_key_rotate": (lambda o: reverse("dashboard:manage_key_rotate", args=[o.key_id]), {}),
    "manage_key_revoke": (lambda o: reverse("dashboard:manage_key_revoke", args=[o.key_id]), {}),
    "manage_retention": (
        lambda o: reverse("dashboard:manage_retention"),
        {"days": "1", "confirm": "yes"},
    ),
    "manage_retention_run": (lambda o: reverse("dashboard:manage_retention_run"), {}),
    "manage_retention_remove": (
        lambda o: reverse("dashboard:manage_retention_remove", args=[o.rule_id]),
        {},
    ),
    "manage_deletions": (
        lambda o: reverse("dashboard:manage_deletions"),
        {"kind": "session", "session-session_id": str(SESSION_A), "confirm": "yes"},
    ),
    "manage_deletion_rows": (lambda o: reverse("dashboard:manage_deletion_rows"), {}),
    "manage_schemas": (
        lambda o: reverse("dashboard:manage_schemas"),
        {"category": "c", "name": "n", "schema": "{}"},
    ),
    "manage_schema": (
        lambda o: reverse("dashboard:manage_schema", args=[o.schema_id]),
        {"schema": '{"type": "array"}'},
    ),
    "manage_schema_remove": (
        lambda o: reverse("dashboard:manage_schema_remove", args=[o.schema_id]),
        {},
    ),
    "manage_tracked_keys": (lambda o: reverse("dashboard:manage_tracked_keys"), {"key": "plan"}),
    "manage_tracked_key_remove": (
        lambda o: reverse("dashboard:manage_tracked_key_remove", args=[o.tracked_key_id]),
        {},
    ),
    "manage_audit": (lambda o: reverse("dashboard:manage_audit"), {}),
    "manage_lockouts": (lambda o: reverse("dashboard:manage_lockouts"), {}),
    "manage_lockout_unlock": (
        lambda o: reverse("dashboard:manage_lockout_unlock"),
        {"kind": "user", "value": "alice"},
    ),
    "manage_alerts": (
        lambda o: reverse("dashboard:manage_alerts"),
        {"name": "n", "kind": "refusals", "threshold": "1", "emails": "a@example.com"},
    ),
    "manage_alert": (
        lambda o: reverse("dashboard:manage_alert", args=[o.alert_id]),
        {"name": "n", "kind": "refusals", "threshold": "1", "emails": "a@example.com"},
    ),
    "manage_alert_mute": (
        lambda o: reverse("dashboard:manage_alert_mute", args=[o.alert_id]),
        {"muted": "on"},
    ),
    "manage_alert_remove": (
        lambda o: reverse("dashboard:manage_alert_remove", args=[o.alert_id]),
        {},
    ),
}
# Actions without a page of their own: they only take a POST.
POST_ONLY = {
    "manage_key_issue",
    "manage_publishable_issue",
    "manage_retention_run",
    "manage_lockout_unlock",
    "manage_alert_mute",
}


def url_of(route: str, objects: Objects) -> str:
    return ROUTES[route][0](objects)


def test_it_lists_every_admin_route_here():
    routes = {p.name for p in dashboard_urls.manage_urlpatterns if isinstance(p, URLPattern)}
    assert routes == set(ROUTES), "a new Admin page needs its access tests"
    assert all(url_of(route, Objects(1, 1, 1, 1)).startswith("/manage/") for route in ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_it_sends_anonymous_visitors_to_the_login_page(client, objects, route):
    for response in (
        client.get(url_of(route, objects)),
        client.post(url_of(route, objects), ROUTES[route][1]),
    ):
        assert response.status_code == 302
        login, _, next_url = response["Location"].partition("?next=")
        assert login == reverse("login")
        assert next_url


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_it_refuses_every_page_and_action_to_a_viewer(as_alice, objects, route):
    assert as_alice.get(url_of(route, objects)).status_code == 403
    assert as_alice.post(url_of(route, objects), ROUTES[route][1]).status_code == 403


def test_it_lets_a_viewer_change_nothing(as_alice, objects):
    audit_before = AuditEntry.objects.count()

    for route, (_, body) in ROUTES.items():
        as_alice.post(url_of(route, objects), body)

    assert AuditEntry.objects.count() == audit_before
    key = ApiKey.objects.get(pk=objects.key_id)
    assert key.revoked_at is None and key.rate_limit_per_minute is None
    assert ApiKey.objects.filter(application_id=objects.application_id).count() == 3
    assert RetentionRule.objects.get(pk=objects.rule_id).days == 90
    assert EventSchema.objects.get(pk=objects.schema_id).schema == {"type": "object"}
    assert not DeletionRequest.objects.exists()
    assert list(TrackedKey.objects.values_list("pk", "key")) == [(objects.tracked_key_id, "path")]
    alert = AlertRule.objects.get(pk=objects.alert_id)
    assert (alert.name, alert.kind, alert.muted) == ("silent", "silence", False)


@pytest.mark.parametrize("route", sorted(set(ROUTES) - POST_ONLY))
def test_it_shows_every_admin_page_to_staff(as_bob, objects, route):
    response = as_bob.get(url_of(route, objects))

    assert response.status_code == 200
    if route != "manage_deletion_rows":
        html = response.content.decode()
        # The Admin tab is current, and the area's own navigation is there.
        assert f'href="{reverse("dashboard:manage_applications")}" aria-current="page"' in html
        assert 'aria-label="Admin"' in html


@pytest.mark.parametrize("route", sorted(POST_ONLY))
def test_it_takes_actions_only_by_post(as_bob, objects, route):
    assert as_bob.get(url_of(route, objects)).status_code == 405


def test_it_offers_the_admin_area_to_staff_only(as_alice, as_bob):
    viewer = as_alice.get(reverse("dashboard:overview")).content.decode()
    staff = as_bob.get(reverse("dashboard:overview")).content.decode()

    assert ">Admin<" not in viewer
    assert reverse("dashboard:manage_applications") not in viewer
    assert f'href="{reverse("dashboard:manage_applications")}">Admin</a>' in staff


def test_it_refuses_an_action_without_its_csrf_token(bob, db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    url = reverse("dashboard:manage_applications")
    page = client.get(url)

    refused = client.post(url, {"name": "web"})
    accepted = client.post(
        url, {"name": "web", "csrfmiddlewaretoken": page.cookies["csrftoken"].value}
    )

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert AuditEntry.objects.filter(action=AuditEntry.Action.APPLICATION_CREATED).count() == 1


def test_a_viewer_is_told_why_in_the_dashboards_frame(as_alice):
    response = as_alice.get(reverse("dashboard:manage_audit"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "Not allowed" in page and "for staff" in page
    assert 'href="/manage/' not in page  # the frame shows no Admin link to a viewer
