"""Huey tasks. The consumer imports this module from every installed app, so the tasks
must be defined here. They stay thin: unpack plain data, call a service."""

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, periodic_task, signal
from huey.signals import SIGNAL_COMPLETE

from alerts.delivery import notification_deliver
from alerts.digests import digests_send
from alerts.services import alert_rules_check, notifications_prune
from events.erasure import deletion_request_run
from events.models import DeletionRequest, TrackedKey
from events.retention import retention_enforce
from events.services import (
    Delivery,
    EventRow,
    event_deliveries_store,
    refusal_create,
)
from events.tracked_keys import tracked_key_backfill
from eye import metrics
from insights.kept import kept_dashboards_refresh
from tasks.queue import lease_kept_alive, store_tasks_claim, worker_heartbeat_record
from tasks.reliable import QueueFull, ReliableRedisStorage

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
    """Store the events of one accepted request, and of the requests queued behind it.

    Under load many small tasks wait in the queue; writing them one statement each would
    cost a database round trip per request. So a fresh task claims more waiting store
    tasks (up to EYE_WORKER_MAX_BATCH events) and writes them all at once. A retry does
    not claim: it waits for the database alone.
    """
    own = Delivery([EventRow(*row) for row in rows], application_id, received_at, request_id)
    claim = store_tasks_claim(
        task_class=store_events.task_class,
        max_events=settings.EYE_WORKER_MAX_BATCH - len(rows) if attempt == 0 else 0,
        linger=settings.EYE_WORKER_LINGER_MS / 1000,
    )
    deliveries = [own, *claim.deliveries]
    attempts = [attempt] + [0] * len(claim.deliveries)
    started = time.perf_counter()
    try:
        outcome = event_deliveries_store(deliveries=deliveries)
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        # The database is down, restarting or overloaded. Whatever was in flight was
        # rolled back, so every batch goes back on the schedule; the unique key absorbs
        # any part that a lost commit acknowledgement had in fact stored.
        delay = retry_delay(attempt)
        logger.warning(
            "store_events failed (%s); retrying in %.1f s",
            exc.__class__.__name__,
            delay,
            extra={"request_id": request_id, "events": len(rows), "attempt": attempt},
        )
        for delivery, tried in zip(deliveries, attempts, strict=True):
            store_events.schedule(args=(*delivery_args(delivery), tried + 1), delay=delay)
        claim.ack()
        return
    claim.ack()
    elapsed = time.perf_counter() - started
    events = sum(len(delivery.rows) for delivery in deliveries)
    duplicates = events - outcome.stored - outcome.dead_lettered
    metrics.insert_batch_size.observe(events)
    metrics.insert_seconds.observe(elapsed)
    metrics.events_stored.inc(outcome.stored)
    metrics.events_duplicate.inc(duplicates)
    metrics.events_dead_lettered.inc(outcome.dead_lettered)
    logger.info(
        "store_events stored %d of %d events from %d requests",
        outcome.stored,
        events,
        len(deliveries),
        extra={
            "request_id": ",".join(d.request_id for d in deliveries),
            "events": events,
            "stored": outcome.stored,
            "duplicates": duplicates,
            "dead_lettered": outcome.dead_lettered,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )


def delivery_args(delivery: Delivery) -> tuple:
    """A delivery as store_events' first four arguments: plain values only."""
    rows = [tuple(row) for row in delivery.rows]
    return rows, delivery.application_id, delivery.received_at, delivery.request_id


def store_events_enqueue(delivery: Delivery) -> None:
    """Queue an accepted request's events; raises one of QUEUE_ERRORS when the queue cannot
    take them (unreachable, or full), in which case nothing was queued."""
    task = store_events.s(*delivery_args(delivery))
    storage = HUEY.storage
    if isinstance(storage, ReliableRedisStorage):
        storage.enqueue_bounded(HUEY.serialize_task(task))
        return
    if settings.EYE_QUEUE_MAX_PENDING and HUEY.pending_count() >= settings.EYE_QUEUE_MAX_PENDING:
        raise QueueFull(f"the queue already holds {settings.EYE_QUEUE_MAX_PENDING} tasks")
    HUEY.enqueue(task)


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
        keep=settings.EYE_REFUSALS_KEPT,
    )


TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)


def run_maintenance(name: str, job: Callable[[], object]) -> bool:
    """Run a long maintenance job in the worker. Returns False when the database was
    unreachable, so that the caller schedules a retry.

    The worker's lease is kept alive for as long as the job takes (a deletion may run for
    minutes), so that no other worker takes the task for abandoned and runs it twice. Any
    other failure is logged and recorded by the job itself, not raised: a task that raises
    goes back to the queue at once, and a job that fails the same way every time would
    then never stop.
    """
    try:
        with lease_kept_alive():
            job()
    except TRANSIENT_DATABASE_ERRORS as exc:
        logger.warning("%s: database unreachable (%s)", name, exc.__class__.__name__)
        return False
    except Exception:
        logger.exception("%s failed", name)
    return True


# Every quarter hour: a rule's boundary moves on with the clock, and a run with nothing
# to remove costs a few index probes. A run the database missed waits for the next one.
# The history of alert notifications is kept bounded on the same round, on its own so
# that a failure of either leaves the other done.
@db_periodic_task(crontab(minute="*/15"))
def enforce_retention() -> None:
    run_maintenance("enforce_retention", retention_enforce)
    run_maintenance("prune_notifications", lambda: notifications_prune(now=timezone.now()))


def retention_enforce_enqueue() -> None:
    """Run retention in the worker now rather than at the next quarter hour (a periodic
    task, called, is queued like any other)."""
    enforce_retention()


@db_task()
def delete_events(deletion_request_id: int, attempt: int = 0) -> None:
    """Carry out a confirmed deletion; if the database is unreachable, try again later
    (a deletion can be resumed: it deletes what is left of its scope)."""
    done = run_maintenance(
        "delete_events",
        lambda: deletion_request_run(deletion_request_id=deletion_request_id),
    )
    if not done:
        delete_events.schedule(args=(deletion_request_id, attempt + 1), delay=retry_delay(attempt))


def delete_events_enqueue(*, deletion_request: DeletionRequest) -> None:
    """Start a confirmed deletion in the worker, once its record is committed."""
    transaction.on_commit(lambda: delete_events(deletion_request.pk))


# A backfill gives its worker back to the queue this often: several keys added at once
# would otherwise hold as many workers for as long as their backfills take, and the
# events sent meanwhile would wait behind them.
BACKFILL_SLICE_SECONDS = 2.0


@db_task()
def backfill_tracked_key(tracked_key_id: int, attempt: int = 0) -> None:
    """Count a newly tracked key's values in the events stored before it, a slice at a
    time, each queued behind the tasks that came meanwhile; if the database is
    unreachable, try again later (a backfill resumes at the day it stopped at)."""
    finished: list[bool] = []
    done = run_maintenance(
        "backfill_tracked_key",
        lambda: finished.append(
            tracked_key_backfill(tracked_key_id=tracked_key_id, seconds=BACKFILL_SLICE_SECONDS)
        ),
    )
    if not done:
        backfill_tracked_key.schedule(
            args=(tracked_key_id, attempt + 1), delay=retry_delay(attempt)
        )
    elif finished == [False]:
        backfill_tracked_key(tracked_key_id)


def backfill_tracked_key_enqueue(*, tracked_key: TrackedKey) -> None:
    """Start a new tracked key's backfill in the worker, once the key is committed: ingest
    counts the key from then on, and the backfill counts what was stored before."""
    transaction.on_commit(lambda: backfill_tracked_key(tracked_key.pk))


def alerts_check_run(*, now: datetime) -> None:
    """Check the alert rules as of `now` and queue what they have to send."""
    outcome = alert_rules_check(now=now)
    for notification_id in outcome.due:
        deliver_notification(notification_id)
    if outcome.failed:
        logger.warning("check_alerts: %d of %d rules failed", outcome.failed, outcome.checked)


@db_periodic_task(crontab(minute="*"))
def check_alerts() -> None:
    run_maintenance("check_alerts", lambda: alerts_check_run(now=timezone.now()))


@db_periodic_task(crontab(minute="*"))
def keep_dashboards_fresh() -> None:
    run_maintenance("keep_dashboards_fresh", lambda: kept_dashboards_refresh(now=timezone.now()))


@db_task()
def deliver_notification(notification_id: int, attempt: int = 0) -> None:
    """Send one notification; a refused or unanswered attempt is tried again later, with
    backoff, until EYE_ALERT_DELIVERY_ATTEMPTS (the notification's own count)."""
    try:
        outcome = notification_deliver(notification_id=notification_id)
    except TRANSIENT_DATABASE_ERRORS:
        deliver_notification.schedule(
            args=(notification_id, attempt + 1), delay=retry_delay(attempt)
        )
        return
    if outcome is not None and outcome.retry_in is not None:
        deliver_notification.schedule(args=(notification_id,), delay=outcome.retry_in)


# Digests go out in the first hours of a day (or a Monday); checking every hour means a
# worker that was down at one o'clock sends them at the next hour.
@db_periodic_task(crontab(minute="7"))
def send_digests() -> None:
    run_maintenance("send_digests", lambda: digests_send(now=timezone.now()))


@periodic_task(crontab(minute="*"))
def worker_heartbeat() -> None:
    """Shows that a consumer is alive even when no events arrive (health checks read it)."""
    worker_heartbeat_record()


_last_heartbeat = 0.0


@signal(SIGNAL_COMPLETE)
def heartbeat_on_task_complete(signal_name: str, task: object) -> None:
    # At most every few seconds: a heartbeat per task would cost a round trip per task.
    global _last_heartbeat
    if time.monotonic() - _last_heartbeat > 5:
        _last_heartbeat = time.monotonic()
        worker_heartbeat_record()


@HUEY.on_startup()
def heartbeat_on_startup() -> None:
    worker_heartbeat_record()
