"""Two web servers of The Eye, as on two hosts, share what users and operators rely on: a
login made through one is valid on the other (sessions live in the database, signed with
the shared EYE_SECRET_KEY), a key revoked through one is refused by the other within
EYE_KEY_CACHE_SECONDS, and their metrics add up in one /metrics view where they share a
metrics directory (the processes of one host), while each host's own is its own."""

import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from prometheus_client.parser import text_string_to_metric_families

from tests.scale.web import WebServer

KEY_CACHE_SECONDS = 1.5
PASSWORD = "staff-password-1"


@pytest.fixture
def two_hosts(tmp_path, store):
    """Two web servers with data directories of their own and one metrics directory, as
    two processes of one host would share it."""
    env = {"EYE_KEY_CACHE_SECONDS": str(KEY_CACHE_SECONDS)}
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    servers = [
        WebServer(tmp_path / f"host-{n}", env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)})
        for n in (1, 2)
    ]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def staff(store):
    from django.contrib.auth.models import User

    # The servers check passwords with Django's default hashers, not the test suite's
    # fast one.
    return User.objects.create(
        username="staff",
        is_staff=True,
        password=PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt()),
    )


def logged_in(server: WebServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=20)
    token = client.get("/login/").cookies["csrftoken"]
    answer = client.post(
        "/login/",
        data={"username": "staff", "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert answer.status_code == 302, answer.text
    return client


def on(server: WebServer, client: httpx.Client) -> httpx.Client:
    """The same browser, cookies and all, talking to another server."""
    other = httpx.Client(base_url=server.url, timeout=20)
    for name, value in client.cookies.items():
        other.cookies.set(name, value)
    return other


def events(count: int) -> list[dict]:
    now = datetime.now(UTC).isoformat()
    return [
        {"session_id": str(uuid.uuid4()), "category": "c", "name": "n", "timestamp": now}
        for _ in range(count)
    ]


def post(server: WebServer, key: str, count: int = 1) -> int:
    return httpx.post(
        f"{server.url}/api/event/",
        json=events(count),
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ).status_code


def accepted_total(server: WebServer) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "eye_events_accepted_total":
                return sample.value
    return 0.0


def test_it_keeps_a_login_made_through_one_server_on_the_other(two_hosts, staff):
    first, second = two_hosts
    browser = logged_in(first)
    elsewhere = on(second, browser)

    assert elsewhere.get("/").status_code == 200
    assert elsewhere.get("/manage/applications/").status_code == 200

    # Logging out through the second ends the session on the first too.
    token = browser.cookies["csrftoken"]
    assert elsewhere.post("/logout/", data={"csrfmiddlewaretoken": token}).status_code == 302
    assert browser.get("/").status_code == 302


def test_it_refuses_a_key_revoked_through_one_server_on_the_other_within_the_cache_time(
    two_hosts, staff, web_app
):
    first, second = two_hosts
    key = web_app.issue(read=False, write=True)
    # Both servers have looked the key up, and trust what they found for a while.
    assert post(first, key) == 202
    assert post(second, key) == 202

    browser = logged_in(first)
    key_id = web_app.stored(key).pk
    token = browser.cookies["csrftoken"]
    revoked = browser.post(f"/manage/keys/{key_id}/revoke/", data={"csrfmiddlewaretoken": token})
    assert revoked.status_code == 302
    revoked_at = time.monotonic()

    # The server that revoked it refuses it at once.
    assert post(first, key) == 401
    while post(second, key) != 401:
        assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 3, "still accepted"
        time.sleep(0.1)
    assert time.monotonic() - revoked_at < KEY_CACHE_SECONDS + 3


def test_it_adds_up_the_metrics_of_both_servers_in_one_view(two_hosts, web_app, tmp_path):
    first, second = two_hosts
    assert post(first, web_app.writer, 3) == 202
    assert post(second, web_app.writer, 4) == 202

    assert accepted_total(first) == 7
    assert accepted_total(second) == 7

    # A host of its own (its own metrics directory) shows what it counted, and only that:
    # Prometheus scrapes every host and sums them.
    own = tmp_path / "other-host-metrics"
    own.mkdir()
    third = WebServer(tmp_path / "host-3", env={"PROMETHEUS_MULTIPROC_DIR": str(own)})
    third.start()
    try:
        assert post(third, web_app.writer, 2) == 202
        assert accepted_total(third) == 2
        assert accepted_total(first) == 7
    finally:
        third.stop()
