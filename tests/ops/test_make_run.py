"""`make run` on a fresh machine: no EYE_DATABASE_URL, no EYE_REDIS_URL. It starts its own
PostgreSQL and queue under a scratch data directory, accepts and returns events, and
finds them again after a restart."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, SEED_EVENT, free_port, wait_for

# It starts an Eye on a database of its own, so either pass of `make test` runs the same test.
pytestmark = pytest.mark.own_database


# The newcomer's machine: nothing configured (and no TimescaleDB in the embedded server),
# and, as for root or a service account, no runtime directory.
UNSET_ON_A_NEW_MACHINE = {
    "EYE_DATABASE_URL",
    "EYE_REDIS_URL",
    "EYE_QUEUE_NAME",
    "EYE_TIMESCALEDB",
    "XDG_RUNTIME_DIR",
}


class EyeProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / "run.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in UNSET_ON_A_NEW_MACHINE}
        env.update(EYE_DATA_DIR=str(self.data_dir), EYE_PORT=str(self.port), EYE_QUEUE_WORKERS="1")
        self.output = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "eye.serve"],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            # A group of its own, so that terminate() can end every process it started.
            start_new_session=True,
        )
        assert wait_for(lambda: self.healthy() or self.process.poll() is not None, timeout=90)
        assert self.healthy(), self.log.read_text()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.output.close()
        return code

    def terminate(self) -> None:
        """Whatever state a test left it in, end it and everything it started: a web
        server or consumer left running would take the next test's tasks."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        # The embedded PostgreSQL daemonizes out of the group; its command names the folder.
        subprocess.run(["pkill", "-9", "-f", str(self.data_dir)], check=False)


def test_it_runs_with_nothing_installed_and_keeps_data_across_restarts(eye):
    eye.start()
    first_output = eye.log.read_text()
    key = re.search(r"read and write\): (eye_\S+)", first_output).group(1)
    password = re.search(r"user: admin  password: (\S+)", first_output).group(1)
    assert "EYE_REDIS_URL is unset" in first_output
    # Not even platformdirs' warning about a missing runtime directory (XDG_RUNTIME_DIR).
    assert "Warning" not in first_output, first_output
    assert (eye.data_dir / "postgres" / "PG_VERSION").exists()
    headers = {"Authorization": f"Bearer {key}"}

    posted = httpx.post(f"{eye.url}/api/event/", json=SEED_EVENT, headers=headers)
    assert posted.status_code == 202

    def stored() -> bool:
        return httpx.get(f"{eye.url}/api/event/", headers=headers).json()["count"] == 1

    assert wait_for(stored, timeout=10), eye.log.read_text()
    assert eye.stop() == 0
    # Ctrl-C stopped the database too.
    assert not (eye.data_dir / "postgres" / "postmaster.pid").exists()

    eye.start()
    body = httpx.get(f"{eye.url}/api/event/", headers=headers).json()
    assert body["results"][0]["session_id"] == SEED_EVENT["session_id"]
    assert body["results"][0]["timestamp"] == "2021-01-01T09:15:27.243860Z"
    # The credentials were printed once, on the first run only.
    assert "This is shown once" not in eye.log.read_text()
    assert password
    time.sleep(0.1)
    assert eye.stop() == 0


def test_it_installs_the_eye_command_with_make_run(tmp_path):
    venv = tmp_path / "venv"
    plan = subprocess.run(
        # Inside another make (`make test-postgres`), make would also print the directories
        # it enters, after the plan.
        ["make", "--dry-run", "--no-print-directory", "run", f"VENV={venv}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in plan.splitlines() if f"{venv}/bin/pip install" in line]
    assert any(line.endswith(" -e client") for line in installs), plan
    assert plan.rstrip().endswith(f"{venv}/bin/python -m eye.serve")
