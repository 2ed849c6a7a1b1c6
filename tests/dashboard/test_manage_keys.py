"""Keys from the application page: issued with the rights chosen, shown once, rotated,
revoked and changed, each taking effect at the API and each in the audit log."""

import re
from collections import Counter

import pytest
from django.urls import reverse

from events.models import ApiKey, AuditEntry
from tests.support import SEED_EVENT

AUDIT = reverse("dashboard:manage_audit")


@pytest.fixture
def web(web_app):
    return web_app.application


def app_url(application) -> str:
    return reverse("dashboard:manage_application", args=[application.pk])


def issue_url(application) -> str:
    return reverse("dashboard:manage_key_issue", args=[application.pk])


def secret_on(response) -> str | None:
    match = re.search(
        r'<code id="new-key-secret" class="secret-value">([^<]+)</code>', response.content.decode()
    )
    return match.group(1) if match else None


def issue(client, application, **fields) -> str:
    """Issue a key through the page; returns the secret the page showed."""
    response = client.post(issue_url(application), fields, follow=True)
    assert response.redirect_chain == [(app_url(application), 302)]
    secret = secret_on(response)
    assert secret is not None
    return secret


def test_it_issues_a_key_and_shows_its_secret_once(as_bob, web):
    response = as_bob.post(
        issue_url(web), {"issue-can_read": "on", "issue-can_write": "on"}, follow=True
    )

    secret = secret_on(response)
    key = ApiKey.objects.get(prefix=secret[:12])
    assert (key.application, key.can_read, key.can_write) == (web, True, True)
    html = response.content.decode()
    assert "It will not be shown again" in html
    assert f"Key {key.prefix}… issued: read+write, no rate limit." in html
    assert "no-store" in response["Cache-Control"]
    # A reload, or any later visit, no longer shows it.
    again = as_bob.get(app_url(web))
    assert secret_on(again) is None
    assert secret not in again.content.decode()
    assert f'data-key="{key.prefix}"' in again.content.decode()


def test_it_issues_a_read_only_key_that_may_query_but_not_send(as_bob, web, api):
    secret = issue(as_bob, web, **{"issue-can_read": "on"})

    assert api.get(key=secret).status_code == 200
    refused = api.post(SEED_EVENT, key=secret)
    assert refused.status_code == 403
    assert "needs write rights" in refused.content.decode()


def test_it_issues_a_write_only_key_with_a_rate_limit(as_bob, web, api):
    secret = issue(as_bob, web, **{"issue-can_write": "on", "issue-rate_limit_per_minute": "2"})

    key = ApiKey.objects.get(prefix=secret[:12])
    assert (key.can_read, key.can_write, key.rate_limit_per_minute) == (False, True, 2)
    assert api.get(key=secret).status_code == 403
    assert [api.post(SEED_EVENT, key=secret).status_code for _ in range(3)] == [202, 202, 429]


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "A key needs read rights, write rights or both."),
        (
            {"issue-can_read": "on", "issue-rate_limit_per_minute": "0"},
            "greater than or equal to 1",
        ),
        ({"issue-can_read": "on", "issue-rate_limit_per_minute": "many"}, "Enter a whole number."),
    ],
)
def test_it_refuses_a_key_form_with_errors_inline_and_issues_nothing(as_bob, web, fields, error):
    keys_before = ApiKey.objects.count()

    response = as_bob.post(issue_url(web), fields)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert secret_on(response) is None
    assert ApiKey.objects.count() == keys_before


def test_it_rotates_a_key_after_confirmation(as_bob, web_app, web, api):
    old = web_app.both
    key = web_app.stored(old)
    url = reverse("dashboard:manage_key_rotate", args=[key.pk])

    confirm = as_bob.get(url)
    assert confirm.status_code == 200
    assert ">Rotate key</button>" in confirm.content.decode()
    assert api.get(key=old).status_code == 200  # asking changes nothing

    response = as_bob.post(url, follow=True)

    new = secret_on(response)
    assert new is not None and new != old
    assert "The rotated key: copy it now" in response.content.decode()
    assert api.get(key=old).status_code == 401
    assert api.get(key=new).status_code == 200
    replacement = ApiKey.objects.get(prefix=new[:12])
    assert (replacement.can_read, replacement.can_write) == (True, True)


def test_it_does_not_rotate_a_revoked_key(as_bob, web_app, web):
    key = web_app.stored(web_app.both)
    as_bob.post(reverse("dashboard:manage_key_revoke", args=[key.pk]))
    keys_before = ApiKey.objects.count()

    confirm = as_bob.get(reverse("dashboard:manage_key_rotate", args=[key.pk]))
    response = as_bob.post(reverse("dashboard:manage_key_rotate", args=[key.pk]), follow=True)

    assert "Rotate key</button>" not in confirm.content.decode()
    assert "there is nothing to do" in confirm.content.decode()
    assert ApiKey.objects.count() == keys_before
    assert secret_on(response) is None
    assert f"Key {key.prefix}… is revoked; issue a new key instead." in response.content.decode()


def test_it_revokes_a_key_after_confirmation(as_bob, web_app, web, api):
    secret = web_app.writer
    key = web_app.stored(secret)
    url = reverse("dashboard:manage_key_revoke", args=[key.pk])

    confirm = as_bob.get(url)
    assert "Requests made with this key are refused (401)" in confirm.content.decode()
    assert api.post(SEED_EVENT, key=secret).status_code == 202

    response = as_bob.post(url, follow=True)

    assert response.redirect_chain == [(app_url(web), 302)]
    assert api.post(SEED_EVENT, key=secret).status_code == 401
    row = response.content.decode().split(f'data-key="{key.prefix}"')[1].split("</tr>")[0]
    assert "revoked" in row
    assert "Revoke…" not in row


def test_it_changes_a_keys_rights_and_rate_limit(as_bob, web_app, web, api):
    secret = web_app.both
    key = web_app.stored(secret)
    url = reverse("dashboard:manage_key", args=[key.pk])
    form = as_bob.get(url).content.decode()
    assert 'name="rate_limit_per_minute"' in form

    response = as_bob.post(url, {"can_write": "on", "rate_limit_per_minute": "1"}, follow=True)

    assert response.redirect_chain == [(app_url(web), 302)]
    key.refresh_from_db()
    assert (key.can_read, key.can_write, key.rate_limit_per_minute) == (False, True, 1)
    assert f"Key {key.prefix}… changed: write, 1 requests a minute." in response.content.decode()
    assert api.get(key=secret).status_code == 403
    assert [api.post(SEED_EVENT, key=secret).status_code for _ in range(2)] == [202, 429]


def test_it_lifts_a_rate_limit_when_the_field_is_emptied(as_bob, web_app):
    key = web_app.stored(web_app.issue(read=True, write=True, rate_limit=10))

    as_bob.post(
        reverse("dashboard:manage_key", args=[key.pk]),
        {"can_read": "on", "can_write": "on", "rate_limit_per_minute": ""},
    )

    key.refresh_from_db()
    assert key.rate_limit_per_minute is None


def test_it_shows_the_change_form_errors_inline(as_bob, web_app):
    key = web_app.stored(web_app.both)

    response = as_bob.post(reverse("dashboard:manage_key", args=[key.pk]), {})

    assert response.status_code == 400
    assert "A key needs read rights, write rights or both." in response.content.decode()
    key.refresh_from_db()
    assert (key.can_read, key.can_write) == (True, True)


def test_it_offers_no_change_form_for_a_revoked_key(as_bob, web_app):
    key = web_app.stored(web_app.reader)
    as_bob.post(reverse("dashboard:manage_key_revoke", args=[key.pk]))

    response = as_bob.post(reverse("dashboard:manage_key", args=[key.pk]), {"can_write": "on"})

    assert 'name="can_write"' not in response.content.decode()
    key.refresh_from_db()
    assert (key.can_read, key.can_write) == (True, False)


def test_it_records_every_key_action_in_the_audit_log_with_its_actor(as_bob, bob, web_app, web):
    secret = issue(as_bob, web, **{"issue-can_read": "on"})
    key = ApiKey.objects.get(prefix=secret[:12])
    as_bob.post(
        reverse("dashboard:manage_key", args=[key.pk]),
        {"can_read": "on", "rate_limit_per_minute": "30"},
    )
    as_bob.post(reverse("dashboard:manage_key_rotate", args=[key.pk]))
    rotated = ApiKey.objects.filter(application=web, revoked_at__isnull=True).latest("created_at")
    as_bob.post(reverse("dashboard:manage_key_revoke", args=[rotated.pk]))

    actions = Counter(AuditEntry.objects.filter(actor=bob).values_list("action", flat=True))
    # A rotation issues the new key and revokes the old one, and says so too.
    assert actions == {
        AuditEntry.Action.KEY_ISSUED: 2,
        AuditEntry.Action.KEY_CHANGED: 1,
        AuditEntry.Action.KEY_ROTATED: 1,
        AuditEntry.Action.KEY_REVOKED: 2,
    }
    html = as_bob.get(AUDIT, {"actor": "bob"}).content.decode()
    for label in ("Key issued", "Key changed", "Key rotated", "Key revoked"):
        assert f'<td class="nowrap">{label}</td>' in html
    assert html.count('<td class="nowrap">bob</td>') == 6


def test_it_issues_a_key_that_reads_every_application_shown_as_such(as_bob, web, mobile_app, api):
    form = as_bob.get(app_url(web)).content.decode()
    assert 'name="issue-can_read_all_applications"' in form
    assert "Read every application" in form

    secret = issue(as_bob, web, **{"issue-can_read": "on", "issue-can_read_all_applications": "on"})

    key = ApiKey.objects.get(prefix=secret[:12])
    assert (key.application, key.can_read, key.can_read_all_applications) == (web, True, True)
    row = re.search(
        rf'<tr data-key="{key.prefix}">(.*?)</tr>', as_bob.get(app_url(web)).content.decode(), re.S
    )
    assert row and 'data-right="read-all">every application</span>' in row.group(1)
    detail = as_bob.get(reverse("dashboard:manage_key", args=[key.pk])).content.decode()
    assert "read, reads every application" in detail
    checkbox = re.search(r'<input[^>]*name="can_read_all_applications"[^>]*>', detail)
    assert checkbox and "checked" in checkbox.group(0)
    entry = AuditEntry.objects.get(
        action=AuditEntry.Action.KEY_ISSUED, details__key=f"{key.prefix}…"
    )
    assert entry.actor_name == "bob"
    assert entry.details["rights"] == "read, reads every application"
    assert api.get(key=secret).status_code == 200


def test_it_refuses_the_right_to_read_every_application_without_read(as_bob, web):
    response = as_bob.post(
        issue_url(web), {"issue-can_write": "on", "issue-can_read_all_applications": "on"}
    )

    assert response.status_code == 400
    assert "Reading every application needs the Read right." in response.content.decode()
    assert not ApiKey.objects.filter(application=web, can_read_all_applications=True).exists()


def test_it_takes_the_right_to_read_every_application_away(as_bob, web_app, mobile_app, api):
    from events.keys import api_key_create

    key, _ = api_key_create(
        application=web_app.application, can_read=True, can_write=False,
        can_read_all_applications=True,
    )  # fmt: skip

    as_bob.post(reverse("dashboard:manage_key", args=[key.pk]), {"can_read": "on"})

    key.refresh_from_db()
    assert key.can_read_all_applications is False
    changed = AuditEntry.objects.get(action=AuditEntry.Action.KEY_CHANGED)
    assert changed.details["before"]["rights"] == "read, reads every application"
    assert changed.details["after"]["rights"] == "read"
