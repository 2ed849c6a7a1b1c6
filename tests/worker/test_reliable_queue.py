"""The queue loses nothing when a worker dies, bounds its length, and lets a worker write
the tasks waiting behind its own in one statement."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid

import psycopg
import pytest
import redis
from django.db import connection
from django.utils import timezone

from tasks.reliable import ReliableRedisStorage
from tests.support import (
    ROOT,
    SEED_EVENT,
    database_url_of_test_db,
    run_queued_tasks,
    stop_process,
    stored_events,
    wait_for,
)


def single_events(count: int) -> list[dict]:
    return [{**SEED_EVENT, "name": f"step {i}"} for i in range(count)]


def test_it_writes_waiting_tasks_in_one_statement(api, web_app, huey, store, caplog):
    for event in single_events(30):
        assert api.post(event, key=web_app.writer).status_code == 202
    caplog.set_level("INFO", logger="eye.worker")

    assert run_queued_tasks(huey) == 1

    [line] = [r for r in caplog.records if r.name == "eye.worker"]
    assert (line.events, line.stored) == (30, 30)
    assert len(stored_events()) == 30
    assert huey.pending_count() == 0
    assert huey.storage.in_processing() == 0


def test_it_leaves_other_tasks_in_the_queue_when_claiming(api, web_app, huey, store):
    from tasks.tasks import record_refusal

    api.post(SEED_EVENT, key=web_app.writer)
    record_refusal(timezone.now(), None, 422, [{"message": "x"}], "", 0, "")
    api.post(SEED_EVENT, key=web_app.writer)

    run_queued_tasks(huey)

    from events.models import Refusal

    assert Refusal.objects.count() == 1
    assert len(stored_events()) == 2


def test_it_requeues_the_tasks_of_a_worker_whose_lease_ran_out(api, web_app, huey, store):
    for event in single_events(3):
        api.post(event, key=web_app.writer)
    huey.storage.blocking = False
    # A worker takes a task and dies before finishing it: it never acks.
    dying = ReliableRedisStorage(
        name=huey.storage.name, connection_pool=huey.storage.pool, lease_seconds=0.2, blocking=False
    )
    assert dying.dequeue() is not None
    assert huey.pending_count() == 2
    assert wait_for(lambda: dying.conn.exists(f"{dying.processing_key}.lease") == 0, timeout=5)

    assert huey.storage.recover_abandoned() == 1
    run_queued_tasks(huey)

    assert sorted(e["name"] for e in stored_events()) == ["step 0", "step 1", "step 2"]
    assert huey.storage.in_processing() == 0


def test_it_refuses_with_503_past_the_queue_bound(api, web_app, huey):
    huey.storage.max_pending = 3
    try:
        answers = [api.post(SEED_EVENT, key=web_app.writer).status_code for _ in range(4)]
    finally:
        huey.storage.max_pending = 0

    assert answers == [202, 202, 202, 503]
    assert huey.pending_count() == 3


@pytest.fixture
def events_table_locked(store):
    """Hold a lock that makes every insert into events wait, from another connection."""
    url = database_url_of_test_db()
    release, locked = threading.Event(), threading.Event()

    def hold() -> None:
        with psycopg.connect(url) as locker:
            locker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
            locked.set()
            release.wait(60)
            locker.rollback()

    thread = threading.Thread(target=hold)
    thread.start()
    assert locked.wait(10)
    yield release
    release.set()
    thread.join()


def start_consumer(lease_seconds: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "EYE_DATABASE_URL": database_url_of_test_db(),
        "EYE_QUEUE_LEASE_SECONDS": lease_seconds,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_huey", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def activity() -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT datname, state, wait_event_type, left(query, 50) FROM pg_stat_activity"
        )
        return cursor.fetchall()


def inserts_waiting_on_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE '%%INSERT INTO events%%'"
        )
        return cursor.fetchone()[0]


def test_it_stores_everything_once_after_a_worker_is_killed_mid_batch(
    api, web_app, huey, events_table_locked
):
    batch = single_events(40)
    event_ids = api.post(batch, key=web_app.writer).json()["event_ids"]
    for event in single_events(10):
        event_ids += api.post({**event, "category": "single"}, key=web_app.writer).json()[
            "event_ids"
        ]
    consumer = start_consumer(lease_seconds="2")
    try:
        # The worker is inside its INSERT, waiting on the lock, when it is killed.
        assert wait_for(lambda: inserts_waiting_on_lock() >= 1, timeout=20), activity()
    finally:
        os.killpg(consumer.pid, signal.SIGKILL)
        consumer.wait()
    events_table_locked.set()
    assert huey.storage.in_processing() >= 1

    replacement = start_consumer(lease_seconds="2")
    try:
        assert wait_for(lambda: len(stored_events()) >= 50, timeout=30)
        assert wait_for(lambda: huey.storage.in_processing() == 0, timeout=10)
    finally:
        stop_process(replacement)
    assert sorted(str(e["event_id"]) for e in stored_events()) == sorted(event_ids)


def test_it_puts_a_failed_task_back_in_the_queue(huey, web_app, store):
    from tasks.tasks import record_refusal

    # created_at may not be null: this task fails in the database every time it runs.
    record_refusal(None, None, 422, [{"message": "x"}], "", 0, "")
    huey.storage.blocking = False
    try:
        task = huey.dequeue()
        huey.execute(task)
        assert huey.storage.in_processing() == 1  # not acked: it did not finish
        # Before its next task the worker hands the failed one back, instead of losing it.
        again = huey.dequeue()
    finally:
        huey.storage.blocking = True
    assert again.id == task.id


def test_due_retries_move_from_the_schedule_to_the_queue_in_one_step(huey, web_app):
    from datetime import UTC, datetime, timedelta

    from tasks.tasks import store_events

    now = datetime.now(UTC)
    due = store_events.s([], web_app.application.pk, now)
    later = store_events.s([], web_app.application.pk, now)
    huey.storage.add_to_schedule(huey.serialize_task(due), now - timedelta(seconds=1))
    huey.storage.add_to_schedule(huey.serialize_task(later), now + timedelta(hours=1))

    # The scheduler gets nothing to enqueue itself (a scheduler killed before enqueueing
    # would lose it): the due task is in the queue already, the later one still scheduled.
    assert huey.read_schedule(now) == []
    assert huey.pending_count() == 1
    assert huey.scheduled_count() == 1
    assert huey.deserialize_task(huey.storage.enqueued_items()[0]).id == due.id


class ReplyDroppingProxy:
    """A TCP proxy in front of the real Redis that, once armed, drops the connection in
    place of the next reply: the command ran on the server, and its answer never came
    back, as when Redis shuts down or the network breaks mid-command."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.armed = threading.Event()
        self.dropped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, replies: bool) -> None:
        try:
            while data := source.recv(65536):
                if replies and self.armed.is_set():
                    self.armed.clear()
                    self.dropped.set()
                    break
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_task_whose_move_lost_its_reply_is_not_stranded(huey):
    """The soak once lost an event this way: Redis shut down as a worker moved a retry
    into its processing list; the worker never learnt that it held it, kept its lease
    alive, and nobody took the task back."""
    kwargs = huey.storage.conn.connection_pool.connection_kwargs
    host, port, db = kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379), kwargs["db"]
    proxy = ReplyDroppingProxy((host, port))
    storage = ReliableRedisStorage(
        f"lost-reply-{uuid.uuid4().hex}", read_timeout=1, port=proxy.port, db=db
    )
    direct = redis.Redis(host=host, port=port, db=db)
    try:
        # Lease, registration and the sweep of abandoned lists done: the next reply
        # that comes back is the move's.
        storage.blocking = False
        assert storage.dequeue() is None
        storage.blocking = True
        direct.lpush(storage.queue_key, b"task")

        proxy.armed.set()
        try:
            taken = storage.dequeue()
        except redis.RedisError:
            taken = None
        assert proxy.dropped.is_set()
        if taken is None:
            taken = storage.dequeue()

        assert taken == b"task"
        assert direct.llen(storage.queue_key) == 0
        assert direct.lrange(storage.processing_key, 0, -1) == [b"task"]
    finally:
        proxy.close()
        for key in direct.scan_iter(f"*{storage.name}*"):
            direct.delete(key)
