"""How the funnel and breakdown statements run: with room to sort in memory, and a bounded
number of them at once on the web threads.

Both sort or hash a month of one kind's events per statement (a funnel walks each
session's step events in order); PostgreSQL's default 4 MB of work_mem made those sorts
spill to disk at a million events. The raised limit holds for the one statement only.

One such statement, like ordering a month of sessions by their events (events/stats.py,
which takes a slot too), can hold a web thread for seconds at 10M events, and the web
threads also take the events in: eight clients asking for a funnel in a loop held every thread of
`make run` and kept a single-event POST waiting 2.7 s (median; 14 ms without them). So the
insights API computes at most EYE_INSIGHT_API_CONCURRENCY of them at once, and the
dashboard's pages EYE_INSIGHT_DASHBOARD_CONCURRENCY, across every web process on the
database (advisory locks are the one counter they all share); past that a client or a
person is told to retry rather than queued on a thread that ingest needs. The worker's
computations (dashboards kept fresh, digests, alerts) take no slot: they run on the
worker, one at a time.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction

WORK_MEM = "64MB"


def insight_fetchall(*, sql: str, params: list[object]) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        # SET LOCAL lasts to the end of the outermost transaction, which is not this
        # block when the caller already holds one.
        cursor.execute("SET LOCAL work_mem TO DEFAULT")
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


class InsightsBusy(Exception):
    """Every slot of a pool for computing an insight from the raw events is taken."""

    def __init__(self, slots: int) -> None:
        super().__init__(f"all {slots} insight slots are taken")
        self.slots = slots


@contextmanager
def insight_slot(pool: SlotPool | None, *, needed: bool = True) -> Iterator[None]:
    """Hold one of the pool's slots while the block runs, or raise InsightsBusy at once if
    all are held; nothing without a pool (the worker's computations, or a caller that holds
    a slot already), or when the block is not `needed` (it reads kept counts). The lock
    belongs to this thread's connection: a process that dies lets go of it with its
    connection."""
    slots = pool.size if pool is not None else 0
    if not slots or not needed:
        yield
        return
    held = None
    with connection.cursor() as cursor:
        for slot in range(slots):
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [pool.lock_class, slot])
            if cursor.fetchone()[0]:
                held = slot
                break
    if held is None:
        raise InsightsBusy(slots)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [pool.lock_class, held])
        except DatabaseError:
            # The connection is gone, and its locks with it.
            pass
