"""Real web servers of The Eye for the scale-out tests: gunicorn with the project's own
configuration (eye/gunicorn_conf.py), as the image and `make run` start it, on a port and
a data directory of its own, as on a host of its own."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import ROOT, database_url_of_test_db, free_port, wait_for

# Shared by every web server of a test, as EYE_SECRET_KEY is shared by every host.
SHARED_SECRET_KEY = "scale-out-tests-shared-secret-key-not-for-production"


class WebServer:
    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "EYE_DATABASE_URL": database_url_of_test_db(),
            "EYE_DATA_DIR": str(self.data_dir),
            "EYE_SECRET_KEY": SHARED_SECRET_KEY,
            **self.env,
        }
        command = [
            *(sys.executable, "-m", "gunicorn", "eye.wsgi"),
            *("--config", "python:eye.gunicorn_conf"),
            *("--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "2"),
        ]
        # A session of its own, so that the whole server (master and worker) can be
        # killed at once, as when its host goes.
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.data_dir / "web.log").open("w"),
            start_new_session=True,
        )
        log = (self.data_dir / "web.log").read_text
        assert wait_for(self.answers, timeout=60), f"no web server on {self.port}:\n{log()}"

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=5).status_code in {200, 503}
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL the master and its worker at once: nothing is finished or handed over."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
