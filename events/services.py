"""Writes to the event store."""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import DataError, IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper

from events.erasure import STAGED_ROW_ERASED, STORE_LOCK_SHARE
from events.models import DeadLetter, Refusal
from events.rollups import WITHOUT_JIT, rollup_upserts

logger = logging.getLogger("eye.worker")


class EventRow(NamedTuple):
    """One validated event as the queue carries it: plain values only, so that a task
    never depends on code objects that may change between enqueue and execution."""

    event_id: str
    timestamp: datetime
    session_id: str
    category: str
    name: str
    data_json: str

    def as_json(self) -> dict:
        return {**self._asdict(), "timestamp": self.timestamp.isoformat()}


# Rows are COPYed into a temporary table, then moved into events by one statement that
# says ON CONFLICT DO NOTHING, which makes a redelivered batch harmless (COPY itself cannot).
# COPY is the cheapest way in on both sides: as array parameters of one INSERT, the rows
# cost the worker more CPU to encode than the database spends storing them.
# The rollups are bumped in the same statement from the rows that were actually new, so
# they can never drift from the raw table (data is returned for the tracked keys' value
# counts; with no key tracked nothing reads it). Their rows are upserted in key order so that
# two workers touching the same buckets lock them in the same order and do not deadlock.
STAGING_TABLE = "eye_staged_events"
CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} (
    event_id uuid, ts timestamptz, session_id uuid, category text, name text, data text,
    application_id bigint, received_at timestamptz
) ON COMMIT DELETE ROWS
"""
COPY_STAGING = f"COPY {STAGING_TABLE} FROM STDIN"


INSERT_STAGED = f"""
WITH new_events AS (
    INSERT INTO events (event_id, "timestamp", session_id, category, name, data,
                        application_id, received_at)
    SELECT event_id, ts, session_id, category, name, data::jsonb, application_id, received_at
    FROM {STAGING_TABLE} s
    WHERE NOT {STAGED_ROW_ERASED}
    ON CONFLICT ("timestamp", event_id, application_id) DO NOTHING
    RETURNING "timestamp", session_id, category, name, application_id, data
),{rollup_upserts(rows="new_events", sign="")}
SELECT count(*) FROM new_events
"""


def staging_fill(cursor: CursorWrapper, rows: Iterable[tuple]) -> None:
    """COPY rows (EventRow fields, then application_id and received_at) into the staging
    table, turn JIT off for the transaction (events.rollups.WITHOUT_JIT) and take the
    store's share of events.erasure's lock, ready for INSERT_STAGED. Must run inside a
    transaction: the staging table empties itself at every commit, and the lock is let go
    at its end."""
    cursor.execute(f"{WITHOUT_JIT}; {STORE_LOCK_SHARE}")
    cursor.execute(CREATE_STAGING)
    with cursor.copy(COPY_STAGING) as copy:
        for row in rows:
            copy.write_row(row)


def _store_staged(rows: Iterable[tuple]) -> int:
    """Stage rows and move the new ones into events; returns how many were new."""
    with connection.cursor() as cursor:
        staging_fill(cursor, rows)
        cursor.execute(INSERT_STAGED)
        return cursor.fetchone()[0]


class Delivery(NamedTuple):
    """The events of one accepted request, as one queue task carries them."""

    rows: Sequence[EventRow]
    application_id: int
    received_at: datetime
    request_id: str = ""


def event_deliveries_create(*, deliveries: Sequence[Delivery]) -> int:
    """Store the events of many requests in one statement, skipping any already stored;
    returns how many were new."""
    if not any(delivery.rows for delivery in deliveries):
        return 0
    with transaction.atomic():
        return _store_staged(
            (*row, delivery.application_id, delivery.received_at)
            for delivery in deliveries
            for row in delivery.rows
        )


def event_bulk_create(
    *, rows: Sequence[EventRow], application_id: int, received_at: datetime
) -> int:
    """Store one application's rows, skipping any already stored; returns how many were new."""
    return event_deliveries_create(deliveries=[Delivery(rows, application_id, received_at)])


class StoreOutcome(NamedTuple):
    stored: int
    dead_lettered: int

    def __add__(self, other: "StoreOutcome") -> "StoreOutcome":  # type: ignore[override]
        return StoreOutcome(self.stored + other.stored, self.dead_lettered + other.dead_lettered)


def event_bulk_copy(
    *, rows: Iterable[EventRow], application_id: int, received_at: datetime | None
) -> int:
    """Store many rows of one application in one transaction, streamed rather than held
    in memory; returns how many were new. With `received_at` None, each event counts as
    having arrived at its own timestamp, as the events of a live product do."""
    with transaction.atomic():
        return _store_staged((*row, application_id, received_at or row.timestamp) for row in rows)


def event_deliveries_store(*, deliveries: Sequence[Delivery]) -> StoreOutcome:
    """Store a batch, setting aside the rows the database refuses for good.

    Validation at the API catches what it can, but a row may still be refused (say, a
    string jsonb cannot hold). Rather than fail the batch, which would block the rows
    behind it, the batch is split in halves until each refused row stands alone; those go
    to the dead-letter table with the reason, the rest are stored. Transient errors
    (connection lost, server restarting) propagate so that the caller retries it all.
    """
    try:
        with transaction.atomic():
            return StoreOutcome(event_deliveries_create(deliveries=deliveries), 0)
    except (DataError, IntegrityError) as exc:
        singles = [
            Delivery([row], d.application_id, d.received_at, d.request_id)
            for d in deliveries
            for row in d.rows
        ]
        if len(singles) > 1:
            middle = len(singles) // 2
            halves = (
                event_deliveries_store(deliveries=part)
                for part in (singles[:middle], singles[middle:])
            )
            return sum(halves, StoreOutcome(0, 0))
        [single] = singles
        dead_letter_create(
            rows=single.rows,
            application_id=single.application_id,
            received_at=single.received_at,
            request_id=single.request_id,
            reason=str(exc).strip(),
        )
        return StoreOutcome(0, 1)


def dead_letter_create(
    *,
    rows: Sequence[EventRow],
    application_id: int,
    received_at: datetime,
    request_id: str,
    reason: str,
) -> DeadLetter:
    logger.error("dead letter request_id=%s events=%d reason=%s", request_id, len(rows), reason)
    return DeadLetter.objects.create(
        application_id=application_id,
        request_id=request_id,
        reason=reason,
        rows=[row.as_json() for row in rows],
        received_at=received_at,
    )


# PostgreSQL's text and jsonb cannot hold NUL, and a refused body is exactly where one
# turns up; it is shown as U+2400 SYMBOL FOR NULL, which says what was there.
NUL_SHOWN_AS = "\u2400"


def _storable(value: Any) -> Any:
    """`value` with every NUL (in strings and in object keys) shown as NUL_SHOWN_AS."""
    if isinstance(value, str):
        return value.replace("\x00", NUL_SHOWN_AS)
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def refusal_create(
    *,
    created_at: datetime,
    application_id: int | None,
    status: int,
    errors: list[dict],
    body: str,
    body_size: int,
    request_id: str,
    keep: int,
) -> Refusal:
    """Log a refused request, keeping only the newest `keep` entries.

    The log is trimmed with each entry rather than now and then, so that no flood of
    refusals can grow it past its bound even for a moment. Ids grow with every entry,
    so the entries at or below this one's id less `keep` are the ones past the bound.
    """
    refusal = Refusal.objects.create(
        created_at=created_at,
        application_id=application_id,
        status=status,
        errors=_storable(errors),
        body=_storable(body),
        body_size=body_size,
        request_id=request_id,
    )
    Refusal.objects.filter(id__lte=refusal.id - keep).delete()
    return refusal
