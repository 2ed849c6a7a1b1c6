"""Keys as staff manage them: rights hold on both endpoints, rotation and revocation stop
the old secret at once, limits change live, and every action is in the audit log."""

import pytest

from events.keys import api_key_create, api_key_revoke, api_key_rotate, api_key_update
from events.models import AuditEntry
from tests.support import SEED_EVENT


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", is_staff=True)


def can_post(api, key: str) -> int:
    return api.post(SEED_EVENT, key=key).status_code


def can_get(api, key: str) -> int:
    return api.get(key=key).status_code


def test_rights_hold_on_both_endpoints(api, web_app):
    assert (can_post(api, web_app.reader), can_get(api, web_app.reader)) == (403, 200)
    assert (can_post(api, web_app.writer), can_get(api, web_app.writer)) == (202, 403)
    api_key_revoke(api_key=web_app.stored(web_app.both))
    assert (can_post(api, web_app.both), can_get(api, web_app.both)) == (401, 401)


def test_rotation_replaces_the_secret_and_keeps_the_rights(api, web_app, bob):
    old = web_app.stored(web_app.writer)
    api_key_update(api_key=old, can_read=False, can_write=True, rate_limit_per_minute=50)
    new, secret = api_key_rotate(api_key=old, actor=bob)
    assert (new.can_read, new.can_write, new.rate_limit_per_minute) == (False, True, 50)
    assert can_post(api, web_app.writer) == 401
    assert can_post(api, secret) == 202
    with pytest.raises(ValueError, match="revoked"):
        api_key_rotate(api_key=web_app.stored(web_app.writer), actor=bob)
    actions = list(
        AuditEntry.objects.filter(actor_name="bob").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["key.issued", "key.revoked", "key.rotated"]


def test_a_changed_limit_applies_at_once(api, web_app, bob):
    key = web_app.stored(web_app.writer)
    assert can_post(api, web_app.writer) == 202
    api_key_update(api_key=key, can_read=False, can_write=True, rate_limit_per_minute=1, actor=bob)
    assert can_post(api, web_app.writer) == 202
    response = api.post(SEED_EVENT, key=web_app.writer)
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    entry = AuditEntry.objects.get(action="key.changed")
    assert entry.details["before"]["rate_limit_per_minute"] is None
    assert entry.details["after"]["rate_limit_per_minute"] == 1


def test_changing_rights_takes_them_away(api, web_app, bob):
    key = web_app.stored(web_app.both)
    api_key_update(api_key=key, can_read=True, can_write=False, rate_limit_per_minute=None)
    assert (can_post(api, web_app.both), can_get(api, web_app.both)) == (403, 200)


def test_issuing_is_audited_without_the_secret(web_app, bob):
    _, secret = api_key_create(
        application=web_app.application, can_read=True, can_write=False, actor=bob
    )
    entry = AuditEntry.objects.filter(action="key.issued", actor_name="bob").get()
    assert entry.target == "web"
    assert entry.details["rights"] == "read"
    assert secret not in str(entry.details)
    assert entry.details["key"] == secret[:12] + "…"
