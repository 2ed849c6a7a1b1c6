"""Reads from a PostgreSQL streaming replica, where it is safe, and from the primary otherwise.

With EYE_DATABASE_REPLICA_URL set, the views marked `@reads_from_replica` (the dashboard's
pages and exports, GET /api/event/) read events from the replica; everything else, and any
write, uses the primary: the Admin area, logins and sessions, keys, anything that must see
its own writes. A replica that cannot be reached, or that lags more than
EYE_REPLICA_MAX_LAG_SECONDS behind, is left alone and reads go to the primary until it is
back; its state is looked up at most every EYE_REPLICA_CHECK_SECONDS per process, so a
page costs no extra query.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import Model
from django.http import StreamingHttpResponse

REPLICA = "replica"

# Models whose rows a replica page may read a little late without harm. Keys, users,
# sessions and staff configuration are not among them: a revoked key or a new login must
# take effect at once.
REPLICA_MODELS = {"events.event", "events.refusal", "events.application"}

# The lag, in seconds, as the replica itself sees it: zero when it has replayed all it
# received, else the time since the last transaction it replayed.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())
END
"""

logger = logging.getLogger("eye.replica")

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@dataclass(frozen=True)
class ReplicaState:
    usable: bool
    lag_seconds: float | None
    problem: str | None
    checked_at: float


_state: ReplicaState | None = None
_state_lock = threading.Lock()


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_state(*, fresh: bool = False) -> ReplicaState:
    """Whether the replica may serve reads now: looked up again once the last look is
    older than EYE_REPLICA_CHECK_SECONDS (or when `fresh`)."""
    global _state
    state = _state
    if (
        not fresh
        and state
        and time.monotonic() - state.checked_at < settings.EYE_REPLICA_CHECK_SECONDS
    ):
        return state
    with _state_lock:
        _state = _replica_state_read()
        return _state


def _replica_state_read() -> ReplicaState:
    now = time.monotonic()
    connection = connections[REPLICA]
    try:
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            (lag,) = cursor.fetchone()
    except DatabaseError as exc:
        connection.close()
        logger.warning("the read replica is unreachable (%s); reading from the primary", exc)
        return ReplicaState(False, None, f"unreachable ({exc.__class__.__name__})", now)
    if lag is None:
        return ReplicaState(False, None, "is not in recovery: it is not a replica", now)
    lag = float(lag)
    if lag > settings.EYE_REPLICA_MAX_LAG_SECONDS:
        return ReplicaState(
            False,
            lag,
            f"lags {lag:.1f} s (limit {settings.EYE_REPLICA_MAX_LAG_SECONDS:g} s)",
            now,
        )
    return ReplicaState(True, lag, None, now)


def read_alias() -> str:
    """The database this code should read events from, for raw SQL as for the ORM."""
    if _replica_reads.get() and replica_configured() and replica_state().usable:
        return REPLICA
    return DEFAULT_DB_ALIAS


@contextmanager
def replica_reads() -> Iterator[None]:
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def reads_from_replica(view: Callable) -> Callable:
    """Let this view's reads of events go to the replica. A streamed answer reads while it
    is sent, after the view has returned, so its content is wrapped too."""

    @functools.wraps(view)
    def wrapper(*args: object, **kwargs: object) -> object:
        with replica_reads():
            response = view(*args, **kwargs)
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _streamed_with_replica_reads(response.streaming_content)
        return response

    return wrapper


def _streamed_with_replica_reads(content: Iterator[bytes]) -> Iterator[bytes]:
    with replica_reads():
        yield from content


class ReplicaRouter:
    """Django's router: replica reads of the models that may be read late, in the views
    that allow it; the primary for everything else."""

    def db_for_read(self, model: type[Model], **hints: object) -> str:
        if model._meta.label_lower in REPLICA_MODELS:
            return read_alias()
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: object) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: object) -> bool:
        # The replica is a copy of the primary: an object read from either relates to both.
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: object) -> bool:
        return db == DEFAULT_DB_ALIAS
