"""Two consumers over one: how fast a fixed backlog is *stored* by one consumer process,
then by two, and the ratio of the two rates.

- the backlog: `tasks` store tasks of 100 events each, rows shaped like bench/wrk.lua's
  (bench/store.py's rows_make: random UUIDv4 ids, 5,000 interleaved sessions, live
  timestamps), serialized once by the API's own task code: the same bytes every time;
- before each measurement, untimed: the tables emptied, a CHECKPOINT (so that no run
  inherits another's dirty pages), the running consumers stopped and `count` fresh ones
  started (`manage.py run_huey`, each with its EYE_QUEUE_WORKERS worker processes, as
  `make run` starts one), idle on the empty queue;
- t0, then the whole backlog pushed in one LPUSH: Redis runs it at once, so every
  worker wakes to the full queue and no consumer's start-up is in the time;
- stored/s = backlog events / (the first count that saw every row - t0), the rows
  counted as the ingest loads count them (bench/ingest.py's stored_wait); lost =
  backlog - rows stored, doubled = rows in `events` - backlog. Both must be 0;
- a full run measures 1, 2, 2, 1 consumers, so that neither count always runs first
  after the ingest loads; each count's rate is its events over its seconds. Quick: 1, 2.

The web server stays up and idle. On one machine the consumers share its cores with
PostgreSQL, Redis and each other: the ratio says what a second consumer adds there, not
what one on a host of its own would.
"""

import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path

from bench.ingest import stored_wait
from bench.resources import Sampler
from bench.services import Database, Stack, events_count, events_count_raw, log, tables_truncate
from bench.store import rows_make

EVENTS_PER_TASK = 100


def backlog_make(*, application_id: int, tasks: int) -> list[bytes]:
    """`tasks` serialized store tasks, as the API queues them for 100-event bodies."""
    from huey.contrib.djhuey import HUEY

    from events.services import Delivery, EventRow
    from tasks.tasks import delivery_args, store_events

    rows = rows_make(count=tasks * EVENTS_PER_TASK, profile="live", seed=18)
    received_at = datetime.now(UTC)
    backlog = []
    for index in range(tasks):
        part = [
            EventRow(*row) for row in rows[index * EVENTS_PER_TASK : (index + 1) * EVENTS_PER_TASK]
        ]
        delivery = Delivery(part, application_id, received_at, uuid.uuid4().hex)
        backlog.append(HUEY.serialize_task(store_events.s(*delivery_args(delivery))))
    return backlog


def queue_empty_wait(sampler: Sampler, timeout: float = 30) -> None:
    """Until no task waits or runs (a periodic task may have just been queued)."""
    deadline = time.monotonic() + timeout
    while True:
        sample = sampler.sample()
        if not (sample.queued or sample.in_hand or sample.scheduled):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the queue did not empty before the backlog: {sample}")
        time.sleep(0.1)


def drain_measure(
    *,
    stack: Stack,
    database: Database,
    sampler: Sampler,
    backlog: list[bytes],
    count: int,
    dump_path: Path,
) -> dict:
    """`count` idle consumers, then the backlog at once: the time until all of it is stored."""
    from huey.contrib.djhuey import HUEY

    tables_truncate(database)
    with database.connect(autocommit=True) as connection:
        connection.execute("CHECKPOINT")
    stack.consumers_stop()
    stack.consumers_start(count=count)
    processes = len(stack.consumer_processes())
    queue_empty_wait(sampler)
    events = len(backlog) * EVENTS_PER_TASK
    target: Future[int] = Future()
    target.set_result(events)
    started = time.monotonic()
    sampler.sample()  # the window's first sample: the consumers' start-up is before it
    HUEY.storage.conn.lpush(HUEY.storage.queue_key, *backlog)
    _, last_seen, stalled = stored_wait(
        database=database, target=target, sampler=sampler, dump_path=dump_path
    )
    seconds = last_seen - started
    stored = events_count(database)
    figures = {
        "consumers": count,
        "consumer_processes": processes,
        "events": events,
        "stored_events": stored,
        "seconds": round(seconds, 3),
        "stored_events_per_second": round(stored / seconds, 1) if seconds > 0 else 0.0,
        "lost": events - stored,
        "doubled": events_count_raw(database) - events,
        "stalled": stalled,
        "under_load": sampler.window(started, last_seen),
    }
    log(
        f"consumers: {count} stored {stored:,} events in {seconds:.2f} s = "
        f"{figures['stored_events_per_second']:,.0f}/s"
    )
    return figures


def consumers_measure(
    *,
    stack: Stack,
    database: Database,
    sampler: Sampler,
    application_id: int,
    tasks: int,
    counts: tuple[int, ...],
    log_dir: Path,
) -> dict:
    """The backlog stored by each of `counts` consumers in turn; the stack is left with
    one consumer, as it was."""
    backlog = backlog_make(application_id=application_id, tasks=tasks)
    runs = []
    try:
        for number, count in enumerate(counts, 1):
            log(f"consumers: run {number} of {len(counts)}, {count} consumer(s), {tasks:,} tasks")
            runs.append(
                drain_measure(
                    stack=stack,
                    database=database,
                    sampler=sampler,
                    backlog=backlog,
                    count=count,
                    dump_path=log_dir / f"stuck-consumers-{number}.txt",
                )
            )
    finally:
        stack.consumers_stop()
        stack.consumers_start(count=1)
    rates = {}
    for count in sorted(set(counts)):
        mine = [run for run in runs if run["consumers"] == count]
        seconds = sum(run["seconds"] for run in mine)
        stored = sum(run["stored_events"] for run in mine)
        rates[str(count)] = round(stored / seconds, 1) if seconds > 0 else 0.0
    return {
        "tasks": tasks,
        "events_per_task": EVENTS_PER_TASK,
        "events": tasks * EVENTS_PER_TASK,
        "workers_per_consumer": stack.consumer_workers,
        "runs": runs,
        "stored_events_per_second": rates,
        "ratio_two_over_one": (
            round(rates["2"] / rates["1"], 3) if rates.get("1") and "2" in rates else None
        ),
    }
