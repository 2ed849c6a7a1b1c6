"""EYE_DATABASE_REPLICA_URL with a real streaming replica: the dashboard, its exports and
GET /api/event/ read from it; keys, logins and writes stay on the primary; a replica that
lags or is gone leaves reads to the primary, and /api/health says so."""

import uuid
from datetime import UTC, datetime

import pytest

from tests.scale.replica import StreamingReplica


@pytest.fixture
def replica(store, hypertable, settings):
    # The replica takes a copy of the cluster the test database is in. The machine's own
    # cluster (the plain PostgreSQL pass) accepts no replication connections; its reads
    # go through the same router and selectors, tested here on TimescaleDB.
    settings.EYE_REPLICA_CHECK_SECONDS = 0
    settings.EYE_REPLICA_MAX_LAG_SECONDS = 600
    server = StreamingReplica()
    server.start()
    with server.as_django_alias():
        yield server
    server.stop()


def events(count: int, label: str) -> list[dict]:
    session = str(uuid.uuid4())
    return [
        {
            "session_id": session,
            "category": "replica",
            "name": label,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        for _ in range(count)
    ]


def stored_then_replay_paused(api, web_app, drain, replica) -> None:
    """7 events on both servers, then 5 more on the primary alone."""
    assert api.post(events(7, "early"), key=web_app.writer).status_code == 202
    drain()
    assert replica.caught_up_with(7)
    replica.sql("SELECT pg_wal_replay_pause()")
    assert api.post(events(5, "late"), key=web_app.writer).status_code == 202
    drain()


def test_it_reads_events_from_the_replica(api, web_app, drain, replica, client, django_user_model):
    stored_then_replay_paused(api, web_app, drain, replica)
    # A login made now exists only on the primary: sessions must not be read from the replica.
    client.force_login(django_user_model.objects.create_user("alice"))

    page = api.get({"category": "replica"}, key=web_app.reader)
    assert page.status_code == 200
    assert page.json()["count"] == 7
    assert {result["name"] for result in page.json()["results"]} == {"early"}

    explore = client.get("/explore/", {"range": "1h", "category": "replica"})
    assert explore.status_code == 200
    assert b"late" not in explore.content
    export = client.get("/explore/export.ndjson", {"range": "1h", "category": "replica"})
    assert export.status_code == 200
    assert len(b"".join(export.streaming_content).splitlines()) == 7


def test_keys_made_after_the_replica_stopped_replaying_still_work(api, web_app, drain, replica):
    stored_then_replay_paused(api, web_app, drain, replica)
    # The key exists only on the primary: authentication must not read the replica.
    new_key = web_app.issue(read=True, write=True)
    page = api.get({"category": "replica"}, key=new_key)
    assert page.status_code == 200
    assert page.json()["count"] == 7


def test_it_reads_from_the_primary_when_the_replica_lags(api, web_app, drain, replica, settings):
    stored_then_replay_paused(api, web_app, drain, replica)
    settings.EYE_REPLICA_MAX_LAG_SECONDS = 0.001

    assert api.get({"category": "replica"}, key=web_app.reader).json()["count"] == 12
    health = api.get(url="/api/health").json()["replica"]
    assert health["reads_from"] == "primary"
    assert "lags" in health["problem"]


def test_it_reads_from_the_primary_when_the_replica_is_gone(api, web_app, drain, replica):
    assert api.post(events(3, "early"), key=web_app.writer).status_code == 202
    drain()
    assert replica.caught_up_with(3)
    assert api.get(url="/api/health").json()["replica"]["reads_from"] == "replica"

    replica.stop()
    assert api.post(events(2, "late"), key=web_app.writer).status_code == 202
    drain()
    assert api.get({"category": "replica"}, key=web_app.reader).json()["count"] == 5
    health = api.get(url="/api/health")
    assert health.status_code in {200, 503}  # the replica alone never makes it unhealthy
    assert health.json()["replica"]["ok"] is False
    assert "unreachable" in health.json()["replica"]["problem"]
    assert not any("replica" in problem for problem in health.json()["problems"])
