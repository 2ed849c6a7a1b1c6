"""Login throttling: repeated wrong passwords lock a user name, and separately an address,
out (the right password included); staff see the lockout under Admin and lift it; the
audit log records both."""

import pytest
from django.test import Client
from django.urls import reverse

from events.models import AuditEntry

LOGIN = reverse("login")
OVERVIEW = reverse("dashboard:overview")
LOCKOUTS = reverse("dashboard:manage_lockouts")
UNLOCK = reverse("dashboard:manage_lockout_unlock")


def log_in(client: Client, username: str, password: str, *, address: str = "10.0.0.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def hammered(alice) -> Client:
    """Thirty wrong passwords for alice from one address."""
    client = Client()
    for _ in range(30):
        log_in(client, "alice", "wrong-guess")
    return client


def test_it_refuses_the_right_password_after_thirty_wrong_ones(hammered):
    response = log_in(hammered, "alice", "alice-password-1")

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert hammered.get(OVERVIEW).status_code == 302


def test_it_locks_the_user_out_from_any_address(hammered):
    client = Client()

    response = log_in(client, "alice", "alice-password-1", address="10.0.0.99")

    assert response.status_code == 429
    assert client.get(OVERVIEW).status_code == 302


def test_it_locks_the_address_out_for_every_user(hammered, bob):
    client = Client()

    response = log_in(client, "bob", "bob-password-1", address="10.0.0.7")

    assert response.status_code == 429
    assert client.get(OVERVIEW).status_code == 302


def test_it_lets_a_few_mistakes_pass(alice):
    client = Client()
    for _ in range(4):
        log_in(client, "alice", "wrong-guess")

    assert log_in(client, "alice", "alice-password-1").status_code == 302
    assert client.get(OVERVIEW).status_code == 200


def test_it_shows_the_lockout_to_staff(hammered, as_bob):
    html = as_bob.get(LOCKOUTS).content.decode()

    for row in ('data-lockout="user:alice"', 'data-lockout="address:10.0.0.7"'):
        start = html.index(row)
        assert "locked out" in html[start : html.index("</tr>", start)]
    assert "After 5 failed logins" in html
    assert 'href="/manage/lockouts/" aria-current="page">Login lockouts</a>' in html


def test_it_writes_one_audit_entry_per_lockout(hammered, as_bob):
    [entry] = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_LOCKED_OUT)

    assert entry.actor_name == "login throttle"
    assert entry.target == "user alice from 10.0.0.7"
    assert entry.details["failure_limit"] == 5
    html = as_bob.get(reverse("dashboard:manage_audit")).content.decode()
    assert "Login locked out" in html and "user alice from 10.0.0.7" in html


def test_it_lets_staff_lift_a_lockout(hammered, as_bob):
    for kind, value in (("user", "alice"), ("address", "10.0.0.7")):
        response = as_bob.post(UNLOCK, {"kind": kind, "value": value}, follow=True)
        assert response.redirect_chain == [(LOCKOUTS, 302)]

    assert 'data-lockout="user:alice"' not in as_bob.get(LOCKOUTS).content.decode()
    assert log_in(hammered, "alice", "alice-password-1").status_code == 302
    assert hammered.get(OVERVIEW).status_code == 200
    unlocked = AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_UNLOCKED)
    assert sorted(e.target for e in unlocked) == ["address 10.0.0.7", "user alice"]
    assert {e.actor_name for e in unlocked} == {"bob"}


def test_it_keeps_the_lockouts_from_viewers(hammered, as_alice):
    assert as_alice.get(LOCKOUTS).status_code == 403
    assert as_alice.post(UNLOCK, {"kind": "user", "value": "alice"}).status_code == 403


def test_it_refuses_to_unlock_an_address_that_is_not_one(as_bob, db):
    response = as_bob.post(UNLOCK, {"kind": "address", "value": "not-an-ip"}, follow=True)

    assert response.redirect_chain == [(LOCKOUTS, 302)]
    assert (
        "Nothing to unlock: User name or address: Enter a valid IPv4 or IPv6 address."
        in response.content.decode()
    )
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.LOGIN_UNLOCKED).exists()
