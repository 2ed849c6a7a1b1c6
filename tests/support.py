"""Helpers shared by the tests: named actors, an API client, and ways to read the store."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Timer

import orjson
import psycopg
from django.db import connection
from django.test import Client

from events.insight_sql import SlotPool
from events.keys import api_key_create
from events.models import ApiKey, Application, Event
from events.retention import events_table_is_hypertable

ROOT = Path(__file__).resolve().parent.parent

SEED_EVENT = {
    "session_id": "e2085be5-9137-4e4e-80b5-f1ffddc25423",
    "category": "page interaction",
    "name": "cta click",
    "data": {"host": "www.xxxxx.com", "path": "/", "element": "chat bubble"},
    "timestamp": "2021-01-01 09:15:27.243860",
}


class AppKeys:
    """Named actors: an application's keys, one per set of rights."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self.both = self.issue(read=True, write=True)
        self.writer = self.issue(read=False, write=True)
        self.reader = self.issue(read=True, write=False)

    def issue(self, *, read: bool, write: bool, rate_limit: int | None = None) -> str:
        _, raw_key = api_key_create(
            application=self.application,
            can_read=read,
            can_write=write,
            rate_limit_per_minute=rate_limit,
        )
        return raw_key

    def stored(self, raw_key: str) -> ApiKey:
        return ApiKey.objects.get(prefix=raw_key[:12])


class ApiClient:
    """Django's test client speaking the API's dialect: JSON bodies, bearer keys."""

    def __init__(self) -> None:
        self.client = Client()

    def post(self, body: object, *, key: str | None, raw: bytes | None = None, **extra):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        headers.update(extra.pop("headers", {}))
        data = raw if raw is not None else orjson.dumps(body)
        return self.client.post(
            "/api/event/", data=data, content_type="application/json", headers=headers, **extra
        )

    def get(self, params: dict | None = None, *, key: str | None = None, url: str = "/api/event/"):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return self.client.get(url, params or {}, headers=headers)


def run_queued_tasks(huey) -> int:
    """Run every task waiting in the real Redis queue, in this process, as a consumer
    would; returns how many ran. Needs a transactional database, as a consumer has."""
    ran = 0
    # Without blocking, an empty queue answers at once instead of after Huey's 1 s wait.
    huey.storage.blocking = False
    try:
        while (task := huey.dequeue()) is not None:
            huey.execute(task)
            ran += 1
            # A failing task goes back to the queue (nothing is dropped), so a broken
            # test would otherwise loop here for ever.
            assert ran < 10_000, "the queue never empties: a task keeps failing"
    finally:
        huey.storage.blocking = True
    return ran


def stored_events(**filters) -> list[dict]:
    return list(Event.objects.filter(**filters).order_by("timestamp", "event_id").values())


def is_hypertable() -> bool:
    return events_table_is_hypertable()


def database_url_of_test_db() -> str:
    """A URL for the test database, for processes started by a test."""
    settings_dict = connection.settings_dict
    host = settings_dict["HOST"] or "127.0.0.1"
    user = settings_dict["USER"]
    password = f":{settings_dict['PASSWORD']}" if settings_dict["PASSWORD"] else ""
    port = f":{settings_dict['PORT']}" if settings_dict["PORT"] else ""
    if host.startswith("/"):
        return f"postgres://{user}{password}@/{settings_dict['NAME']}?host={host}"
    return f"postgres://{user}{password}@{host}{port}/{settings_dict['NAME']}"


def start_consumer(
    *, workers: int = 2, periodic: bool = True, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """A real Huey consumer process on the test queue and the test database; `env` adds
    to or overrides the environment it inherits.

    Without `periodic`, its scheduler enqueues none of the periodic tasks (the heartbeat
    every minute, retention every quarter hour), so that the queue holds only what the
    test put there: a test that asserts on the queue's contents needs that.
    """
    env = {**os.environ, "EYE_DATABASE_URL": database_url_of_test_db(), **(env or {})}
    options = [] if periodic else ["--no-periodic"]
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", str(workers), *options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(condition: Callable[[], bool], *, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the test's own, so that a test can stop and start it for real
    without disturbing the machine's Redis."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        assert wait_for(lambda: _pings(client), timeout=10), "private redis did not start"

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _pings(client) -> bool:
    import redis

    try:
        return client.ping()
    except redis.RedisError:
        return False


@contextmanager
def queue_moved_to(huey, url: str, **storage_options) -> Iterator[None]:
    """Point this process's queue at another Redis (or Sentinel set) for the duration."""
    from eye.redis_connections import redis_pool_from_url

    original = huey.storage
    pool = redis_pool_from_url(url, socket_connect_timeout=0.5, socket_timeout=2)
    huey.storage = type(original)(
        name=original.name,
        connection_pool=pool,
        lease_seconds=original.lease_seconds,
        max_pending=original.max_pending,
        **storage_options,
    )
    try:
        yield
    finally:
        huey.storage = original


@contextmanager
def another_connection() -> Iterator[psycopg.Connection]:
    """A connection of its own to the test database: what another web process holds."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        yield other


def slots_hold(other: psycopg.Connection, pool: SlotPool, *slots: int) -> None:
    """Take insight slots on `other`, as a process computing with them would."""
    for slot in slots:
        taken = other.execute("SELECT pg_try_advisory_lock(%s, %s)", [pool.lock_class, slot])
        assert taken.fetchone() == (True,), f"slot {slot} is held already"


def slot_release(other: psycopg.Connection, pool: SlotPool, slot: int) -> None:
    other.execute("SELECT pg_advisory_unlock(%s, %s)", [pool.lock_class, slot])


@contextmanager
def table_held(other: psycopg.Connection, table: str, *, for_seconds: float) -> Iterator[None]:
    """Another process holds `table` for `for_seconds` from entering the block: a statement
    reading it waits that long, as one over years of events would compute. Leaving the
    block waits for the table to be let go."""
    other.execute("BEGIN")
    other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    letting_go = Timer(for_seconds, other.execute, ["COMMIT"])
    letting_go.start()
    try:
        yield
    finally:
        letting_go.join()
