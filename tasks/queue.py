"""What the queue holds and whether a consumer is alive: for health checks and metrics."""

import sqlite3
import time
from dataclasses import dataclass

from django.core.cache import cache
from huey.contrib.djhuey import HUEY
from redis import RedisError

# What the queue's storage raises when it cannot be reached: Redis in production, the
# SQLite file of the embedded setup, or the file system under either.
QUEUE_ERRORS = (RedisError, sqlite3.Error, OSError)

HEARTBEAT_KEY = "worker-heartbeat"


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


def queue_backlog() -> Backlog:
    """How many tasks wait, and how long the next one to run has waited.

    Every store task carries the time its request arrived (its third argument), so the
    age of the queue's oldest entry is the delay an event sees between 202 and storage.
    """
    pending = HUEY.pending_count()
    oldest_age = None
    if pending:
        for raw in HUEY.storage.enqueued_items(limit=1):
            task = HUEY.deserialize_task(raw)
            if len(task.args) > 2 and hasattr(task.args[2], "timestamp"):
                oldest_age = max(0.0, time.time() - task.args[2].timestamp())
    return Backlog(pending=pending, oldest_age_seconds=oldest_age)
