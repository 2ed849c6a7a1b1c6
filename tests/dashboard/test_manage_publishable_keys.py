"""Publishable keys from the application page: issued with their origins, their snippet
always shown, their origins changed, rotated and revoked, each taking effect at the API."""

import html
import re

import orjson
import pytest
from django.test import Client
from django.urls import reverse

from events.models import ApiKey, AuditEntry
from eye.tracker import TRACKER_STUB
from tests.support import ROOT, SEED_EVENT

SHOP = "https://shop.example.com"


@pytest.fixture
def web(web_app):
    return web_app.application


def app_url(application) -> str:
    return reverse("dashboard:manage_application", args=[application.pk])


def issue(client, application, origins: str, rate_limit: str = "600"):
    return client.post(
        reverse("dashboard:manage_publishable_issue", args=[application.pk]),
        {"publishable-origins": origins, "publishable-rate_limit_per_minute": rate_limit},
        follow=True,
    )


def snippets(response) -> list[str]:
    found = re.findall(
        r'<code id="snippet-\d+" class="secret-value">([^<]+)</code>', response.content.decode()
    )
    return [html.unescape(snippet) for snippet in found]


def send(key: str, origin: str) -> int:
    return (
        Client()
        .post(
            f"/api/event/?key={key}",
            data=orjson.dumps(SEED_EVENT),
            content_type="text/plain",
            headers={"Origin": origin},
        )
        .status_code
    )


def test_it_issues_a_publishable_key_and_shows_its_snippet(as_bob, web):
    response = issue(as_bob, web, f"{SHOP}\nhttps://*.example.org")

    key = ApiKey.objects.get(kind=ApiKey.Kind.PUBLISHABLE)
    assert key.origins == [SHOP, "https://*.example.org"]
    assert (key.can_read, key.can_write, key.rate_limit_per_minute) == (False, True, 600)
    [snippet] = snippets(response)
    stub, script = snippet.split("\n")
    assert script == (
        f'<script defer src="http://testserver/eye.js" data-key="{key.public_key}"></script>'
    )
    # The stub that queues early calls is the one the README shows.
    assert stub == TRACKER_STUB and TRACKER_STUB in (ROOT / "README.md").read_text()
    assert key.public_key.startswith("eye_pk_")
    # Public by design: shown on every visit, not once.
    assert snippets(as_bob.get(app_url(web))) == [snippet]
    assert send(key.public_key, SHOP) == 202
    assert send(key.public_key, "https://blog.example.org") == 202
    assert send(key.public_key, "https://evil.example.net") == 403
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.KEY_ISSUED, actor=bob_of(as_bob)).count()
        == 1
    )


def test_it_says_what_is_wrong_with_an_origin(as_bob, web):
    response = issue(as_bob, web, "shop.example.com/path")

    assert response.status_code == 400
    assert "must start with http:// or https://" in html.unescape(response.content.decode())
    assert not ApiKey.objects.filter(kind=ApiKey.Kind.PUBLISHABLE).exists()


def test_it_changes_the_origins_of_a_publishable_key(as_bob, web):
    issue(as_bob, web, SHOP)
    key = ApiKey.objects.get(kind=ApiKey.Kind.PUBLISHABLE)
    page = as_bob.get(reverse("dashboard:manage_key", args=[key.pk]))
    assert SHOP in page.content.decode()

    response = as_bob.post(
        reverse("dashboard:manage_key", args=[key.pk]),
        {"origins": "https://new.example.com", "rate_limit_per_minute": "100"},
        follow=True,
    )

    assert response.redirect_chain == [(app_url(web), 302)]
    key.refresh_from_db()
    assert (key.origins, key.rate_limit_per_minute) == (["https://new.example.com"], 100)
    assert send(key.public_key, "https://new.example.com") == 202
    assert send(key.public_key, SHOP) == 403
    changed = AuditEntry.objects.filter(action=AuditEntry.Action.KEY_CHANGED).first()
    assert changed.details["after"]["origins"] == ["https://new.example.com"]


def test_it_rotates_a_publishable_key_keeping_its_origins(as_bob, web):
    issue(as_bob, web, SHOP)
    old = ApiKey.objects.get(kind=ApiKey.Kind.PUBLISHABLE)

    response = as_bob.post(reverse("dashboard:manage_key_rotate", args=[old.pk]), follow=True)

    new = ApiKey.objects.get(kind=ApiKey.Kind.PUBLISHABLE, revoked_at__isnull=True)
    assert new.origins == [SHOP] and new.public_key != old.public_key
    assert [new.public_key in s for s in snippets(response)] == [True]
    assert send(old.public_key, SHOP) == 401
    assert send(new.public_key, SHOP) == 202


def test_it_revokes_a_publishable_key(as_bob, web):
    issue(as_bob, web, SHOP)
    key = ApiKey.objects.get(kind=ApiKey.Kind.PUBLISHABLE)

    response = as_bob.post(reverse("dashboard:manage_key_revoke", args=[key.pk]), follow=True)

    assert snippets(response) == []
    assert send(key.public_key, SHOP) == 401


def bob_of(client):
    from django.contrib.auth.models import User

    return User.objects.get(username="bob")
