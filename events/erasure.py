"""Deletion on request: every event of a session, or of an application in a time range
(an erasure request, a bad deploy's junk). Staff confirm the count; a background task
then removes the events in batches and reports its progress on the request."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from events.audit import Actor, audit_record
from events.models import Application, AuditEntry, DeletionRequest
from events.removal import events_delete

# A deletion covers every event received before it was requested, those still on their
# way to the store included (queued, or retried while the database was away): the store
# leaves out, as they arrive, the rows a request made after their arrival covers. For
# that to leave no gap, every store transaction holds this lock shared and a request is
# made holding it alone: the request's row is committed either before a store statement
# starts (which then sees it) or after the store's rows are committed (which the
# request's own pass then deletes).
DELETION_LOCK = 0x657965_0001  # "eye" and 1: a key no other advisory lock of ours takes
STORE_LOCK_SHARE = f"SELECT pg_advisory_xact_lock_shared({DELETION_LOCK})"
# Over the staged rows of events.services (alias s: ts, session_id, application_id and
# received_at), true for a row that a deletion request made after it arrived covers.
STAGED_ROW_ERASED = """EXISTS (
    SELECT 1 FROM events_deletionrequest d
    WHERE d.created_at >= s.received_at
      AND (d.session_id IS NULL OR d.session_id = s.session_id)
      AND (d.application_id IS NULL OR d.application_id = s.application_id)
      AND (d.start IS NULL OR (s.ts >= d.start AND s.ts < d."end"))
)"""


class ScopeError(ValueError):
    """The scope does not say which events to delete."""


@dataclass(frozen=True)
class DeletionScope:
    session_id: uuid.UUID | None = None
    application_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ScopeError("give both ends of the time range, or neither")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ScopeError("the range must start before it ends")
        if self.session_id is None and (self.application_id is None or self.start is None):
            raise ScopeError("name a session, or an application and a time range")

    def where(self) -> tuple[str, dict]:
        """SQL over the events table selecting the scope's events: [start, end)."""
        clauses, params = [], {}
        if self.session_id is not None:
            clauses.append("session_id = %(session_id)s")
            params["session_id"] = self.session_id
        if self.application_id is not None:
            clauses.append("application_id = %(application_id)s")
            params["application_id"] = self.application_id
        if self.start is not None:
            clauses.append('"timestamp" >= %(start)s AND "timestamp" < %(end)s')
            params.update(start=self.start, end=self.end)
        return " AND ".join(clauses), params

    @classmethod
    def of(cls, deletion_request: DeletionRequest) -> "DeletionScope":
        return cls(
            session_id=deletion_request.session_id,
            application_id=deletion_request.application_id,
            start=deletion_request.start,
            end=deletion_request.end,
        )


def deletion_count(*, scope: DeletionScope) -> int:
    where, params = scope.where()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM events WHERE {where}", params)
        return cursor.fetchone()[0]


@transaction.atomic
def deletion_request_create(*, scope: DeletionScope, actor: Actor = None) -> DeletionRequest:
    """Record a confirmed request; the caller starts the task that carries it out."""
    with connection.cursor() as cursor:
        # Waits for the store transactions under way; new ones wait for this one.
        cursor.execute(f"SELECT pg_advisory_xact_lock({DELETION_LOCK})")
    application = Application.objects.get(pk=scope.application_id) if scope.application_id else None
    deletion_request = DeletionRequest.objects.create(
        application=application,
        session_id=scope.session_id,
        start=scope.start,
        end=scope.end,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        expected=deletion_count(scope=scope),
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.DELETION_REQUESTED,
        target=deletion_request.scope,
        details={"request": deletion_request.pk, "expected": deletion_request.expected},
    )
    return deletion_request


def deletion_request_run(
    *, deletion_request_id: int, on_progress: Callable[[int], None] | None = None
) -> DeletionRequest:
    """Carry out a request, saving its progress after every batch. Running it again (a
    retry after a crash) simply deletes whatever of the scope is left."""
    deletion_request = DeletionRequest.objects.get(pk=deletion_request_id)
    if deletion_request.status == DeletionRequest.Status.DONE:
        return deletion_request
    deleted_before = deletion_request.deleted
    deletion_request.status = DeletionRequest.Status.RUNNING
    deletion_request.started_at = deletion_request.started_at or timezone.now()
    deletion_request.error = ""
    deletion_request.save(update_fields=["status", "started_at", "error"])

    def progress(total: int) -> None:
        DeletionRequest.objects.filter(pk=deletion_request.pk).update(
            deleted=deleted_before + total
        )
        if on_progress is not None:
            on_progress(deleted_before + total)

    where, params = DeletionScope.of(deletion_request).where()
    try:
        total = events_delete(
            where=where,
            params=params,
            batch_size=settings.EYE_DELETE_BATCH_SIZE,
            on_batch=progress,
        )
    except Exception as exc:
        DeletionRequest.objects.filter(pk=deletion_request.pk).update(
            status=DeletionRequest.Status.FAILED, error=str(exc).strip() or type(exc).__name__
        )
        raise
    deletion_request.deleted = deleted_before + total
    deletion_request.status = DeletionRequest.Status.DONE
    deletion_request.finished_at = timezone.now()
    deletion_request.save(update_fields=["deleted", "status", "finished_at"])
    return deletion_request


def deletions_version() -> str | None:
    """A value that changes whenever deletions have removed events, for results kept for a
    while (a dashboard's cards); None while a deletion is running, when the events change
    under any result."""
    latest = DeletionRequest.objects.filter(started_at__isnull=False).aggregate(
        count=Count("pk"),
        running=Count("pk", filter=Q(status=DeletionRequest.Status.RUNNING)),
        at=Max(Coalesce("finished_at", "started_at")),
    )
    if latest["running"]:
        return None
    return f"{latest['count']}:{latest['at'].isoformat() if latest['at'] else '-'}"
