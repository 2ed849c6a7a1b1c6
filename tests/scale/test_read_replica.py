"""EYE_DATABASE_REPLICA_URL with a real streaming replica, and a real web server reading
through it: the dashboard, its exports and GET /api/event/ read from the replica; keys,
logins and writes stay on the primary; a replica that lags or is gone leaves reads to the
primary, and /api/health says so."""

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from django.test import Client

from tests.scale.replica import StreamingReplica
from tests.support import ROOT, database_url_of_test_db, free_port, stop_process, wait_for


@pytest.fixture
def replica(store) -> Iterator[StreamingReplica]:
    # The replica is a copy of the cluster the test database is in: TimescaleDB's in one
    # pass of make test, the machine's plain PostgreSQL in the other.
    server = StreamingReplica()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def web_server(replica) -> Iterator[Callable[..., httpx.Client]]:
    """Start a web server of The Eye reading from the replica; returns a client of it."""
    processes: list[subprocess.Popen] = []

    def start(*, max_lag: float = 600) -> httpx.Client:
        port = free_port()
        env = {
            **os.environ,
            "EYE_DATABASE_URL": database_url_of_test_db(),
            "EYE_DATABASE_REPLICA_URL": replica.url,
            "EYE_REPLICA_MAX_LAG_SECONDS": str(max_lag),
            "EYE_REPLICA_CHECK_SECONDS": "0",
        }
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

        def up() -> bool:
            try:
                return client.get("/api/health").status_code in {200, 503}
            except httpx.HTTPError:
                return False

        assert wait_for(up, timeout=30), "the web server did not start"
        return client

    yield start
    for process in processes:
        stop_process(process)


def events(count: int, label: str) -> list[dict]:
    session = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat()
    return [
        {"session_id": session, "category": "replica", "name": label, "timestamp": now}
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


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_it_reads_events_from_the_replica(api, web_app, drain, replica, web_server):
    stored_then_replay_paused(api, web_app, drain, replica)
    # A key and a login made now exist only on the primary: neither may be read from the
    # replica.
    new_key = web_app.issue(read=True, write=True)
    from django.contrib.auth.models import User

    login = Client()
    login.force_login(User.objects.create_user("alice"))
    web = web_server()

    page = web.get("/api/event/", params={"category": "replica"}, headers=bearer(new_key))
    assert page.status_code == 200
    assert page.json()["count"] == 7
    assert {result["name"] for result in page.json()["results"]} == {"early"}

    web.cookies.set("sessionid", login.cookies["sessionid"].value)
    explore = web.get("/explore/", params={"range": "1h", "category": "replica"})
    assert explore.status_code == 200
    assert "early" in explore.text and "late" not in explore.text
    export = web.get("/explore/export.ndjson", params={"range": "1h", "category": "replica"})
    assert export.status_code == 200
    assert len(export.text.splitlines()) == 7

    # Writes go to the primary, whatever reads do.
    assert web.post("/api/event/", json=events(1, "x"), headers=bearer(new_key)).status_code == 202
    assert web.get("/api/health").json()["replica"]["reads_from"] == "replica"


def test_it_reads_from_the_primary_when_the_replica_lags(api, web_app, drain, replica, web_server):
    stored_then_replay_paused(api, web_app, drain, replica)
    web = web_server(max_lag=0.001)

    def primary_read() -> bool:
        page = web.get(
            "/api/event/", params={"category": "replica"}, headers=bearer(web_app.reader)
        )
        return page.json()["count"] == 12

    # The lag is the time since the replica last replayed: it passes the limit at once.
    assert wait_for(primary_read, timeout=10)
    health = web.get("/api/health").json()["replica"]
    assert health["reads_from"] == "primary"
    assert "lags" in health["problem"]


def test_it_reads_from_the_primary_when_the_replica_is_gone(
    api, web_app, drain, replica, web_server
):
    assert api.post(events(3, "early"), key=web_app.writer).status_code == 202
    drain()
    assert replica.caught_up_with(3)
    web = web_server()
    assert web.get("/api/health").json()["replica"]["reads_from"] == "replica"

    replica.stop()
    assert api.post(events(2, "late"), key=web_app.writer).status_code == 202
    drain()
    page = web.get("/api/event/", params={"category": "replica"}, headers=bearer(web_app.reader))
    assert page.json()["count"] == 5
    health = web.get("/api/health").json()
    assert health["replica"]["ok"] is False
    assert "unreachable" in health["replica"]["problem"]
    # The replica alone never makes the service unhealthy: reads go on from the primary.
    assert not any("replica" in problem for problem in health["problems"])
