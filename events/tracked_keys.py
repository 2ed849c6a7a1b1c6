"""Tracked data keys: the keys whose values are counted per hour as events are stored
(events/rollups.py), so that breakdowns by them read those counts, not raw events.

Staff choose them, for every application at once, and at most MAX_TRACKED_KEYS: each
costs up to one more rollup row update per stored event that has it. Ingest counts a key
from the moment it is added; a backfill (tasks.tasks.backfill_tracked_key) counts the
events stored before, a day at a time, and only then is the key ready. Until then a
breakdown by it reads raw events, so that it is exact all along. Removing a key deletes
its counts.
"""

import logging
import time

from django.db import connection, transaction
from django.utils import timezone

from events.audit import Actor, audit_record
from events.models import AuditEntry, TrackedKey
from events.rollups import (
    DAY,
    events_day_from,
    value_counts_forget,
    value_counts_lock,
    value_counts_recount,
    value_counts_span,
)

logger = logging.getLogger("eye.tracked_keys")

MAX_TRACKED_KEYS = 10
MAX_KEY_CHARS = TrackedKey._meta.get_field("key").max_length


class TrackedKeyError(ValueError):
    """Why a key cannot be tracked, in words for the person who asked."""


def tracked_key_problem(key: str) -> str | None:
    """What is wrong with `key` as a data key to track (already stripped), or None. The
    rules of a breakdown's key, with a shorter bound: every value row repeats the key."""
    if not key:
        return "Name the data key to track, e.g. path or form.plan."
    if len(key) > MAX_KEY_CHARS:
        return f"A tracked key has at most {MAX_KEY_CHARS} characters."
    if "\x00" in key:
        return "A data key cannot contain NUL characters."
    if any(not part.strip() for part in key.split(".")):
        return "Each part of a dotted key needs a name: form.plan, not form. or form..plan."
    return None


@transaction.atomic
def tracked_key_add(*, key: str, actor: Actor = None) -> TrackedKey:
    """Track `key`; raises TrackedKeyError when it cannot be. The caller starts its
    backfill once this transaction commits."""
    key = key.strip()
    problem = tracked_key_problem(key)
    if problem is not None:
        raise TrackedKeyError(problem)
    with connection.cursor() as cursor:
        # Two staff adding keys at once must not make eleven.
        cursor.execute(f"LOCK TABLE {TrackedKey._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    if TrackedKey.objects.filter(key=key).exists():
        raise TrackedKeyError(f"{key} is tracked already.")
    if TrackedKey.objects.count() >= MAX_TRACKED_KEYS:
        raise TrackedKeyError(
            f"At most {MAX_TRACKED_KEYS} keys are tracked: each one costs every stored event "
            "that has it one more count to keep. Remove one first."
        )
    tracked = TrackedKey.objects.create(key=key)
    audit_record(actor=actor, action=AuditEntry.Action.TRACKED_KEY_ADDED, target=key)
    return tracked


@transaction.atomic
def tracked_key_remove(*, tracked_key: TrackedKey, actor: Actor = None) -> None:
    """Stop tracking a key and delete its counts. Under the value counts' lock, so that
    no storing statement that saw the key adds counts back after they are deleted."""
    value_counts_lock()
    value_counts_forget(key=tracked_key.key)
    TrackedKey.objects.filter(pk=tracked_key.pk).delete()
    audit_record(
        actor=actor,
        action=AuditEntry.Action.TRACKED_KEY_REMOVED,
        target=tracked_key.key,
        details={"was_ready": tracked_key.is_ready},
    )


def tracked_key_exists(*, key: str) -> bool:
    return TrackedKey.objects.filter(key=key).exists()


def tracked_key_is_ready(*, key: str) -> bool:
    """Whether breakdowns by `key` may read its counts: tracked, and its backfill done."""
    return TrackedKey.objects.filter(key=key, ready_at__isnull=False).exists()


def tracked_key_backfill(*, tracked_key_id: int, seconds: float | None = None) -> bool:
    """Count a newly tracked key's values in the events stored before it, one day per
    transaction (ingest waits on each for as long as a day's recount takes, never
    longer), then mark the key ready. Days without events are passed over. With `seconds`,
    it stops after the first day that ends past them and returns False, so that the worker
    can take the tasks queued meanwhile before it goes on; True once the key is ready (or
    was removed). An interrupted backfill resumes where it stopped; one whose key was
    removed meanwhile stops."""
    # Every event not counted by ingest is in these days (an event stored since, at any
    # time, is counted by ingest; recounting its day is harmless).
    first, end = value_counts_span() or (None, None)
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        with transaction.atomic():
            value_counts_lock()
            tracked = TrackedKey.objects.filter(pk=tracked_key_id).first()
            if tracked is None or tracked.is_ready:
                return True
            day = max(first, tracked.backfilled_until or first) if first else None
            day = events_day_from(day) if day is not None else None
            if day is None or end is None or day >= end:
                tracked.ready_at = timezone.now()
                tracked.save(update_fields=["ready_at"])
                logger.info("tracked key %s is ready", tracked.key)
                return True
            value_counts_recount(key=tracked.key, start=day, end=day + DAY)
            tracked.backfilled_until = day + DAY
            tracked.save(update_fields=["backfilled_until"])
        if deadline is not None and time.monotonic() >= deadline:
            return False
