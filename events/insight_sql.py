"""How the funnel and breakdown statements run: with room to sort in memory, and a bounded
number of them at once on the web threads.

Both sort or hash a month of one kind's events per statement (a funnel walks each
session's step events in order); PostgreSQL's default 4 MB of work_mem made those sorts
spill to disk at a million events. The raised limit holds for the one statement only.

One such statement, like ordering a month of sessions by their events (events/stats.py,
which takes a slot too), can hold a web thread for seconds at 10M events, and the web
threads also take the events in: eight clients asking for a funnel in a loop held every
thread of `make run` and kept a single-event POST waiting 2.7 s (median; 14 ms without
them). So the insights API computes at most EYE_INSIGHT_API_CONCURRENCY of them at once,
and the dashboard's pages EYE_INSIGHT_DASHBOARD_CONCURRENCY, across every web process on
the database (advisory locks are the one counter they all share); past that a client or
a person is told to retry rather than queued on a thread that ingest needs. The worker's
computations (dashboards kept fresh, digests, alerts) take no slot: they run on the
worker, one at a time.

While a web request holds a slot, each of its statements is cancelled after
EYE_INSIGHT_TIMEOUT_SECONDS (InsightTooSlow): a funnel over years of a busy application
would otherwise keep computing, a slot and a core taken, long after a proxy had given up on
the request. The limit travels in a context variable, so that it reaches the threads a
dashboard computes its cards on (each runs in a copy of the request's context).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    OperationalError,
    connection,
    connections,
    transaction,
)
from psycopg.errors import QueryCanceled

WORK_MEM = "64MB"

# Milliseconds a statement of insight_fetchall may run, or None: no limit (the worker).
_time_limit_ms: ContextVar[int | None] = ContextVar("insight_time_limit_ms", default=None)


class InsightTooSlow(Exception):
    """A statement computing an insight for a web request ran past its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"computing took longer than {seconds:g} s")
        self.seconds = seconds


def insight_fetchall(
    *, sql: str, params: list[object], using: str = DEFAULT_DB_ALIAS
) -> list[tuple]:
    limit_ms = _time_limit_ms.get()
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            if limit_ms is not None:
                cursor.execute(f"SET LOCAL statement_timeout = {limit_ms}")
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            # SET LOCAL lasts to the end of the outermost transaction, which is not this
            # block when the caller already holds one.
            cursor.execute("SET LOCAL work_mem TO DEFAULT")
            if limit_ms is not None:
                cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
    except OperationalError as exc:
        if limit_ms is None or not isinstance(exc.__cause__, QueryCanceled):
            raise
        raise InsightTooSlow(limit_ms / 1000) from None
    return rows


@dataclass(frozen=True)
class SlotPool:
    """Slots for computations that may read raw events, shared by every web process: the
    first key of their advisory locks (the second is the slot's number; the two-key form
    never meets the one-key locks of retention and tracked keys) and the setting that
    says how many there are (0: no bound)."""

    lock_class: int
    setting: str

    @property
    def size(self) -> int:
        return getattr(settings, self.setting)


# API clients and signed-in people draw on pools of their own, so that a client asking
# for funnels in a loop does not lock people out of the dashboard, nor the other way round.
API_SLOTS = SlotPool(lock_class=0x1E51, setting="EYE_INSIGHT_API_CONCURRENCY")
DASHBOARD_SLOTS = SlotPool(lock_class=0x1E52, setting="EYE_INSIGHT_DASHBOARD_CONCURRENCY")
# An export holds a web thread for as long as its download lasts (minutes for a month):
# without a bound, eight people exporting, or eight stalled downloads, held every thread
# of `make run` and events waited for one.
EXPORT_SLOTS = SlotPool(lock_class=0x1E53, setting="EYE_EXPORT_CONCURRENCY")


class InsightsBusy(Exception):
    """Every slot of a pool for computing an insight from the raw events is taken."""

    def __init__(self, slots: int, pool: SlotPool) -> None:
        super().__init__(f"all {slots} slots of {pool.setting} are taken")
        self.slots = slots
        self.pool = pool


@contextmanager
def insight_slot(pool: SlotPool | None, *, needed: bool = True) -> Iterator[None]:
    """Hold one of the pool's slots while the block runs, or raise InsightsBusy at once if
    all are held, and limit the time of each of the block's insight statements (a pool of
    size 0 bounds only the time). Nothing without a pool (the worker's computations, or a
    caller inside a block that holds a slot already), or when the block is not `needed`
    (it reads kept counts). The lock belongs to this thread's connection: a process that
    dies lets go of it with its connection."""
    if pool is None or not needed:
        yield
        return
    slots = pool.size
    held = None
    if slots:
        with connection.cursor() as cursor:
            for slot in range(slots):
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [pool.lock_class, slot])
                if cursor.fetchone()[0]:
                    held = slot
                    break
        if held is None:
            raise InsightsBusy(slots, pool)
    seconds = settings.EYE_INSIGHT_TIMEOUT_SECONDS
    limit = _time_limit_ms.set(max(1, round(seconds * 1000)) if seconds > 0 else None)
    try:
        yield
    finally:
        _time_limit_ms.reset(limit)
        if held is not None:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [pool.lock_class, held])
            except DatabaseError:
                # The connection is gone, and its locks with it.
                pass
