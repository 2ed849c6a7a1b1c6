"""The queue as the rest of the code sees it: what it holds and whether a consumer is alive
(for health checks and metrics), and how a worker takes extra work or keeps its lease."""

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.cache import cache
from huey.contrib.djhuey import HUEY

from events.services import Delivery, EventRow
from eye.redis_connections import STORE_ERRORS
from tasks.reliable import QueueFull, ReliableRedisStorage

# What the queue raises when it cannot take or give tasks: its store unreachable, or its
# bound reached.
QUEUE_ERRORS = (*STORE_ERRORS, QueueFull)

HEARTBEAT_KEY = "worker-heartbeat"

logger = logging.getLogger("eye.worker")


def worker_heartbeat_record() -> None:
    """Called by the consumer; says when it last showed life."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def worker_heartbeat_age() -> float | None:
    """Seconds since a consumer last showed life, or None if none ever did."""
    last = cache.get(HEARTBEAT_KEY)
    return None if last is None else max(0.0, time.time() - last)


@dataclass(frozen=True)
class Backlog:
    pending: int
    oldest_age_seconds: float | None


BACKLOG_LOOK_AHEAD = 100


def queue_backlog() -> Backlog:
    """How many tasks wait, and how long the next store task to run has waited.

    Every store task carries the time its request arrived (its third argument), so the
    age of the oldest one is the delay an event sees between 202 and storage. Other tasks
    (a notification, a deletion) carry no such time and may be at the head, so the first
    BACKLOG_LOOK_AHEAD entries are looked at, not only the first.
    """
    pending = HUEY.pending_count()
    oldest_age = None
    if pending:
        for raw in HUEY.storage.enqueued_items(limit=BACKLOG_LOOK_AHEAD):
            task = HUEY.deserialize_task(raw)
            if len(task.args) > 2 and hasattr(task.args[2], "timestamp"):
                oldest_age = max(0.0, time.time() - task.args[2].timestamp())
                break
    return Backlog(pending=pending, oldest_age_seconds=oldest_age)


@dataclass
class StoreTaskClaim:
    """Store tasks a worker took from the queue to write along with its own."""

    deliveries: list[Delivery] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def ack(self) -> None:
        if self.raw:
            HUEY.storage.ack_many(self.raw)


CLAIM_CHUNK = 20


def store_tasks_claim(*, task_class: type, max_events: int, linger: float = 0.0) -> StoreTaskClaim:
    """Take waiting store tasks, fresh and due ones only, until about `max_events` events.
    Anything else claimed on the way goes straight back to the head of the queue.

    When the queue is all but empty, wait `linger` seconds once and look again. Under a
    stream of single events each worker would otherwise write one row per statement, and
    the statements, not the rows, are what cost; waiting a few milliseconds lets a batch
    form. A busy queue never waits: its claims come back full.
    """
    claim = StoreTaskClaim()
    storage = HUEY.storage
    if max_events <= 0 or not isinstance(storage, ReliableRedisStorage):
        return claim
    events = 0
    while events < max_events:
        taken = storage.claim(CLAIM_CHUNK)
        if len(taken) < CLAIM_CHUNK and linger > 0:
            time.sleep(linger)
            linger = 0.0
            taken += storage.claim(CLAIM_CHUNK - len(taken))
        others = []
        for raw in taken:
            task = HUEY.deserialize_task(raw)
            fresh = isinstance(task, task_class) and task.eta is None and len(task.args) == 4
            if fresh:
                rows, application_id, received_at, request_id = task.args
                claim.deliveries.append(
                    Delivery(
                        [EventRow(*row) for row in rows], application_id, received_at, request_id
                    )
                )
                claim.raw.append(raw)
                events += len(rows)
            else:
                others.append(raw)
        if others:
            # Something else waits next in line; leave it, and what follows, in order.
            storage.give_back(others)
            break
        if len(taken) < CLAIM_CHUNK:
            break
    return claim


@contextmanager
def lease_kept_alive() -> Iterator[None]:
    """Renew this worker's lease in the background while a long task runs.

    Workers renew their lease when they take a task; one busy for longer than the lease
    (EYE_QUEUE_LEASE_SECONDS) would look dead to the others, who would put its task back
    in the queue for a second run. Only the Redis queue has leases.
    """
    storage = HUEY.storage
    if not isinstance(storage, ReliableRedisStorage):
        yield
        return
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(storage.lease_seconds / 3):
            try:
                storage.renew_lease()
            except QUEUE_ERRORS:
                logger.warning("could not renew the worker's lease; retrying")

    thread = threading.Thread(target=renew, name="lease-renewal", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
