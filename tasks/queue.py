"""What the queue holds and whether a consumer is alive: for health checks and metrics."""

import time
from dataclasses import dataclass

from huey.contrib.djhuey import HUEY


def _heartbeat_key() -> str:
    return f"eye.heartbeat.{HUEY.name}"


def worker_heartbeat_record() -> None:
    """Called by the consumer; a unix time in Redis says when it last showed life."""
    HUEY.storage.conn.set(_heartbeat_key(), repr(time.time()))


def worker_heartbeat_age() -> float | None:
    """Seconds since a consumer last showed life, or None if none ever did."""
    raw = HUEY.storage.conn.get(_heartbeat_key())
    return None if raw is None else max(0.0, time.time() - float(raw))


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
        [raw] = HUEY.storage.enqueued_items(limit=1) or [None]
        if raw is not None:
            task = HUEY.deserialize_task(raw)
            if len(task.args) > 2 and hasattr(task.args[2], "timestamp"):
                oldest_age = max(0.0, time.time() - task.args[2].timestamp())
    return Backlog(pending=pending, oldest_age_seconds=oldest_age)
