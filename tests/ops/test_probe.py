"""`python -m eye.probe live|ready`, the Kubernetes probes of a web pod, against real web
servers: a pod is live while it answers at all, and ready while it can reach the queue,
whatever else /api/health finds wrong."""

import subprocess
import sys

import httpx
import pytest

from eye.probe import probe_check
from tests.scale.web import WebServer
from tests.support import ROOT, free_port


@pytest.fixture
def server(tmp_path, db):
    started: list[WebServer] = []

    def start(**env: str) -> WebServer:
        web = WebServer(tmp_path / f"host-{len(started)}", env=env)
        started.append(web)
        web.start()
        return web

    yield start
    for web in started:
        web.stop()


def probe_run(kind: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "eye.probe", kind, url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_it_keeps_a_pod_ready_through_problems_no_pod_causes(server):
    web = server()
    url = f"{web.url}/api/health"
    # No consumer has ever reported: the health check fails, the pod is fine.
    health = httpx.get(url, timeout=10)
    assert health.status_code == 503
    assert any(problem.startswith("worker:") for problem in health.json()["problems"])

    assert probe_run("live", url).returncode == 0
    assert probe_run("ready", url).returncode == 0


def test_it_takes_a_pod_that_cannot_reach_the_queue_out_but_keeps_it_alive(server):
    web = server(EYE_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    url = f"{web.url}/api/health"

    assert probe_run("live", url).returncode == 0
    ready = probe_run("ready", url)
    assert ready.returncode == 1
    assert "queue: unreachable" in ready.stderr


def test_it_restarts_a_pod_that_does_not_answer():
    url = f"http://127.0.0.1:{free_port()}/api/health"
    assert probe_check(kind="live", url=url).startswith("no answer from")
    assert probe_run("live", url).returncode == 1
    assert probe_run("ready", url).returncode == 1


def test_it_refuses_an_unknown_probe():
    assert probe_run("sideways", "http://127.0.0.1:1/").returncode == 2
