"""Huey tasks. The consumer imports this module from every installed app, so the tasks
must be defined here. They stay thin: unpack plain data, call a service."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, periodic_task, signal
from huey.signals import SIGNAL_COMPLETE

from events.services import EventRow, event_rows_store, refusal_create, refusals_prune
from eye import metrics
from tasks.queue import worker_heartbeat_record

logger = logging.getLogger("eye.worker")

# Retry delays grow 0.5 s, 1 s, 2 s ... up to one minute, and never stop: an accepted
# event waits in the queue for the database as long as it takes.
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 60.0


def retry_delay(attempt: int) -> float:
    return min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)


@db_task()
def store_events(
    rows: list[tuple],
    application_id: int,
    received_at: datetime,
    request_id: str = "",
    attempt: int = 0,
) -> None:
    event_rows = [EventRow(*row) for row in rows]
    started = time.perf_counter()
    try:
        outcome = event_rows_store(
            rows=event_rows,
            application_id=application_id,
            received_at=received_at,
            request_id=request_id,
        )
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        # The database is down, restarting or overloaded. Whatever was in flight was
        # rolled back, so the whole batch goes back on the schedule; the unique key
        # absorbs any part of it that a lost commit acknowledgement already stored.
        delay = retry_delay(attempt)
        logger.warning(
            "store_events failed (%s); retrying in %.1f s",
            exc.__class__.__name__,
            delay,
            extra={"request_id": request_id, "events": len(rows), "attempt": attempt},
        )
        store_events.schedule(
            args=(rows, application_id, received_at, request_id, attempt + 1), delay=delay
        )
        return
    elapsed = time.perf_counter() - started
    duplicates = len(rows) - outcome.stored - outcome.dead_lettered
    metrics.insert_batch_size.observe(len(rows))
    metrics.insert_seconds.observe(elapsed)
    metrics.events_stored.inc(outcome.stored)
    metrics.events_duplicate.inc(duplicates)
    metrics.events_dead_lettered.inc(outcome.dead_lettered)
    logger.info(
        "store_events stored %d of %d events",
        outcome.stored,
        len(rows),
        extra={
            "request_id": request_id,
            "events": len(rows),
            "stored": outcome.stored,
            "duplicates": duplicates,
            "dead_lettered": outcome.dead_lettered,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )


@db_task()
def record_refusal(
    created_at: datetime,
    application_id: int | None,
    status: int,
    errors: list[dict],
    body: str,
    body_size: int,
    request_id: str,
) -> None:
    refusal_create(
        created_at=created_at,
        application_id=application_id,
        status=status,
        errors=errors,
        body=body,
        body_size=body_size,
        request_id=request_id,
    )


@db_periodic_task(crontab(minute="17"))
def prune_refusals() -> None:
    """Keeps the refusal log bounded: it is for watching errors, not an archive."""
    pruned = refusals_prune(keep=settings.EYE_REFUSALS_KEPT)
    if pruned:
        logger.info("prune_refusals deleted=%d", pruned)


@periodic_task(crontab(minute="*"))
def worker_heartbeat() -> None:
    """Shows that a consumer is alive even when no events arrive (health checks read it)."""
    worker_heartbeat_record()


@signal(SIGNAL_COMPLETE)
def heartbeat_on_task_complete(signal_name: str, task: object) -> None:
    worker_heartbeat_record()


@HUEY.on_startup()
def heartbeat_on_startup() -> None:
    worker_heartbeat_record()
