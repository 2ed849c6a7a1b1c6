"""Where Redis memory goes per queued event: N store tasks of 100-event bodies, each queued
by the API's own code (tasks.tasks.store_events_enqueue) into a redis-server of this run's
own, then Redis's INFO memory read.

    .venv/bin/python -m bench.queue_memory               # 2,000 tasks of 100 events
    .venv/bin/python -m bench.queue_memory --tasks 500 --events 1000

Nothing consumes the tasks, so the queue holds all of them when memory is read: the
figure is what a backlog of that many accepted events costs while the database lags.
"""

import argparse
import os
import sys
import tempfile
import uuid
from datetime import UTC, datetime

from bench import services
from bench.store import rows_make


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=100, help="events per task (body)")
    args = parser.parse_args()

    # redis-server writes its log here until redis_stop.
    log_file = open(os.devnull, "w")
    queue = services.redis_start(log_file)
    try:
        os.environ.update(
            DJANGO_SETTINGS_MODULE="eye.settings",
            EYE_REDIS_URL=queue.url,
            EYE_QUEUE_NAME="eye-bench-memory",
            EYE_QUEUE_MAX_PENDING="100000000",
            EYE_DATA_DIR=tempfile.mkdtemp(prefix="eye-bench-memory-"),
        )
        import django

        django.setup()
        from huey.contrib.djhuey import HUEY

        from events.services import Delivery
        from tasks.tasks import delivery_args, store_events, store_events_enqueue

        before = queue.client.info("memory")["used_memory"]
        rows = rows_make(count=args.tasks * args.events, profile="live", seed=1)
        task_bytes = 0
        for index in range(args.tasks):
            batch = rows[index * args.events : (index + 1) * args.events]
            delivery = Delivery(batch, 1, datetime.now(UTC), uuid.uuid4().hex)
            task_bytes += len(HUEY.serialize_task(store_events.s(*delivery_args(delivery))))
            store_events_enqueue(delivery)
        memory = queue.client.info("memory")
        grown = memory["used_memory"] - before
        events = args.tasks * args.events
        print(
            f"{args.tasks} tasks x {args.events} events queued: used_memory grew "
            f"{grown / 2**20:.1f} MiB ({grown / events:.0f} bytes per event, "
            f"{grown / args.tasks / 1024:.1f} KiB per task); serialized tasks "
            f"{task_bytes / events:.0f} bytes per event; used_memory_rss "
            f"{memory['used_memory_rss'] / 2**20:.1f} MiB, allocator fragmentation "
            f"{memory.get('allocator_frag_ratio', 0):.2f}"
        )
    finally:
        services.redis_stop(queue)
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
