"""GET /api/health: the state of the database, the queue and the worker, for load
balancers and compose. 200 when all is well; 503 naming each problem otherwise. Under
`make run` it also shows the supervisor's children, one of which may be restarting."""

import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

from eye.processes import processes_read
from eye.replica import replica_configured, replica_state
from tasks.queue import QUEUE_ERRORS, queue_backlog, worker_heartbeat_age

router = Router(tags=["operations"])


class DatabaseHealth(Schema):
    ok: bool
    latency_ms: float | None = None


class QueueHealth(Schema):
    ok: bool
    pending: int | None = None
    oldest_age_seconds: float | None = None


class WorkerHealth(Schema):
    ok: bool
    last_heartbeat_age_seconds: float | None = None


class ProcessHealth(Schema):
    name: str
    state: str
    restarts: int
    last_exit: str | None = None


class ReplicaHealth(Schema):
    configured: bool
    ok: bool | None = None
    lag_seconds: float | None = None
    reads_from: str = "primary"
    problem: str | None = None


class HealthOut(Schema):
    status: str
    problems: list[str]
    database: DatabaseHealth
    queue: QueueHealth
    worker: WorkerHealth
    # Only under `make run`'s supervisor: its web server and queue consumer.
    processes: list[ProcessHealth] | None = None
    replica: ReplicaHealth


def _database(problems: list[str]) -> DatabaseHealth:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        problems.append(f"database: unreachable ({exc.__class__.__name__})")
        connection.close()
        return DatabaseHealth(ok=False)
    return DatabaseHealth(ok=True, latency_ms=round((time.perf_counter() - started) * 1000, 2))


def _queue_and_worker(problems: list[str]) -> tuple[QueueHealth, WorkerHealth]:
    try:
        backlog = queue_backlog()
        heartbeat_age = worker_heartbeat_age()
    except QUEUE_ERRORS as exc:
        problems.append(f"queue: unreachable ({exc.__class__.__name__})")
        return QueueHealth(ok=False), WorkerHealth(ok=False)
    queue_ok = (backlog.oldest_age_seconds or 0) <= settings.EYE_HEALTH_MAX_BACKLOG_AGE
    if not queue_ok:
        problems.append(
            f"queue: the oldest of {backlog.pending} waiting tasks has waited "
            f"{backlog.oldest_age_seconds:.0f} s (limit {settings.EYE_HEALTH_MAX_BACKLOG_AGE} s)"
        )
    if heartbeat_age is None:
        problems.append("worker: no queue consumer has ever reported")
    elif heartbeat_age > settings.EYE_HEALTH_WORKER_SILENCE:
        problems.append(f"worker: no queue consumer has reported for {heartbeat_age:.0f} s")
    worker_ok = heartbeat_age is not None and heartbeat_age <= settings.EYE_HEALTH_WORKER_SILENCE
    return (
        QueueHealth(
            ok=queue_ok, pending=backlog.pending, oldest_age_seconds=backlog.oldest_age_seconds
        ),
        WorkerHealth(ok=worker_ok, last_heartbeat_age_seconds=heartbeat_age),
    )


def _processes(problems: list[str]) -> list[ProcessHealth] | None:
    states = processes_read(data_dir=settings.DATA_DIR)
    if states is None:
        return None
    for state in states:
        if state.state != "running":
            problems.append(
                f"{state.name}: died ({state.last_exit}) and is being restarted "
                f"(restart {state.restarts})"
            )
    return [ProcessHealth(**vars(state)) for state in states]


def _replica() -> ReplicaHealth:
    """The read replica, if there is one. A replica that cannot serve is not a problem of
    this process (reads go to the primary), so it is named here but leaves the status ok."""
    if not replica_configured():
        return ReplicaHealth(configured=False)
    state = replica_state(fresh=True)
    return ReplicaHealth(
        configured=True,
        ok=state.usable,
        lag_seconds=state.lag_seconds,
        reads_from="replica" if state.usable else "primary",
        problem=None if state.usable else f"replica: {state.problem}; reads go to the primary",
    )


@router.get("/health", response={200: HealthOut, 503: HealthOut}, summary="Health")
# Probes are written by hand, and the rest of the API ends its paths with a slash.
@router.get("/health/", response={200: HealthOut, 503: HealthOut}, include_in_schema=False)
def health(request: HttpRequest) -> Status:
    problems: list[str] = []
    database = _database(problems)
    queue, worker = _queue_and_worker(problems)
    processes = _processes(problems)
    body = HealthOut(
        status="ok" if not problems else "unhealthy",
        problems=problems,
        database=database,
        queue=queue,
        worker=worker,
        processes=processes,
        replica=_replica(),
    )
    return Status(200 if not problems else 503, body)
