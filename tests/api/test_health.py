"""GET /api/health: database, queue, backlog and worker, each named when it fails."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection

from tasks.queue import HEARTBEAT_KEY, worker_heartbeat_record
from tasks.tasks import store_events
from tests.support import wait_for


def health(client) -> tuple[int, dict]:
    response = client.get("/api/health")
    return response.status_code, response.json()


def test_it_is_healthy_with_a_live_consumer(client, consumer_without_periodic_tasks):
    # The consumer's own periodic tasks would sit in the queue for an instant at each
    # minute's turn (a `pending: 1` now and then); without them the queue is empty for sure.
    assert wait_for(lambda: health(client)[0] == 200, timeout=20)

    status, body = health(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["problems"] == []
    assert body["database"]["ok"] is True
    assert body["queue"] == {"ok": True, "pending": 0, "oldest_age_seconds": None}
    assert 0 <= body["worker"]["last_heartbeat_age_seconds"] < 60


def test_it_names_a_worker_that_never_reported(client, db):
    status, body = health(client)

    assert status == 503
    assert body["worker"]["ok"] is False
    assert any(p.startswith("worker:") for p in body["problems"])


def test_it_answers_with_a_trailing_slash_as_without(client, db):
    with_slash = client.get("/api/health/")

    assert with_slash.status_code == 503
    assert with_slash.json()["problems"] == health(client)[1]["problems"]


def test_it_names_a_silent_worker(client, db, settings, huey):
    settings.EYE_HEALTH_WORKER_SILENCE = 1
    cache.set(HEARTBEAT_KEY, datetime.now(UTC).timestamp() - 5)

    status, body = health(client)

    assert status == 503
    assert any("reported for" in p for p in body["problems"])


def test_it_reports_the_backlog_and_its_age(client, db, settings):
    worker_heartbeat_record()
    waited = datetime.now(UTC) - timedelta(seconds=30)
    for _ in range(3):
        store_events([], 1, waited, "req")

    settings.EYE_HEALTH_MAX_BACKLOG_AGE = 600
    status, body = health(client)
    assert status == 200
    assert body["queue"]["pending"] == 3
    assert 29 <= body["queue"]["oldest_age_seconds"] < 60

    settings.EYE_HEALTH_MAX_BACKLOG_AGE = 10
    status, body = health(client)
    assert status == 503
    assert any(p.startswith("queue:") and "waited" in p for p in body["problems"])


def test_it_answers_503_while_redis_is_down_and_200_once_it_is_back(client, db, private_redis):
    worker_heartbeat_record()
    assert health(client)[0] == 200

    private_redis.stop()
    status, body = health(client)
    assert status == 503
    assert body["queue"]["ok"] is False
    assert any("queue: unreachable" in p for p in body["problems"])

    private_redis.start()
    worker_heartbeat_record()
    assert health(client)[0] == 200


@pytest.fixture
def database_unreachable(db):
    settings_dict = connection.settings_dict
    original_port = settings_dict["PORT"]

    def stop() -> None:
        connection.close()
        settings_dict["PORT"] = "1"

    def restore() -> None:
        settings_dict["PORT"] = original_port
        connection.close()

    yield stop, restore
    restore()


def test_it_answers_503_while_the_database_is_unreachable(
    client, transactional_db, database_unreachable
):
    stop, restore = database_unreachable
    worker_heartbeat_record()
    stop()

    status, body = health(client)
    assert status == 503
    assert body["database"]["ok"] is False
    assert any(p.startswith("database:") for p in body["problems"])

    restore()
    assert health(client)[0] == 200


def test_it_names_a_process_that_make_run_is_restarting(client, db, settings, tmp_path):
    from eye.processes import ProcessState, processes_record

    settings.DATA_DIR = tmp_path
    worker_heartbeat_record()
    processes_record(
        data_dir=tmp_path,
        states=[
            ProcessState(name="web", state="running", restarts=0, last_exit=None),
            ProcessState(name="worker", state="restarting", restarts=2, last_exit="SIGKILL"),
        ],
    )

    status, body = health(client)
    assert status == 503
    assert body["problems"] == ["worker: died (SIGKILL) and is being restarted (restart 2)"]
    assert body["processes"][1] == {
        "name": "worker",
        "state": "restarting",
        "restarts": 2,
        "last_exit": "SIGKILL",
    }


def test_it_ignores_the_record_of_a_supervisor_that_is_gone(client, db, settings, tmp_path):
    import json

    settings.DATA_DIR = tmp_path
    worker_heartbeat_record()
    # Above Linux's largest process id: no such process can be running.
    dead = 2**22 + 1
    state = {"name": "worker", "state": "restarting", "restarts": 1, "last_exit": "SIGKILL"}
    (tmp_path / "processes.json").write_text(json.dumps({"supervisor": dead, "processes": [state]}))

    status, body = health(client)
    assert status == 200
    assert body["processes"] is None


def test_it_tells_the_age_of_store_tasks_behind_other_tasks(client, db, settings):
    from tasks.tasks import deliver_notification

    worker_heartbeat_record()
    deliver_notification(1)
    store_events([], 1, datetime.now(UTC) - timedelta(seconds=30), "req")

    _, body = health(client)

    assert body["queue"]["pending"] == 2
    assert 29 <= body["queue"]["oldest_age_seconds"] < 60
