"""Huey's consumer, with worker processes that stop once the consumer itself is gone.

The consumer runs its workers and scheduler as child processes. Killed outright (SIGKILL,
the kernel's OOM killer), it leaves them running with nobody to stop them: they would keep
taking tasks beside the consumer started in its place, and no Ctrl-C would reach them.
Here each one checks, between two tasks, that its consumer is still its parent, and
stops when it is not: after the task in hand, so that nothing it took is dropped.

The consumer's pid is taken where the worker is made, in the consumer, not in the forked
process: a consumer killed while it forks (as it starts, or replaces a dead worker) would
otherwise leave a child that finds its new parent already in place and takes that parent
for its consumer, and runs forever.
"""

import os

from huey import SqliteHuey
from huey.consumer import Consumer, Scheduler, Worker


class StopsWithItsConsumer:
    """For Huey's worker and scheduler processes (a mixin before their class)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.consumer_pid = os.getpid()

    def loop(self, now: object = None) -> None:
        # With thread workers (never configured, but Huey's default) the loop runs in the
        # consumer itself, and its parent is whoever started the consumer.
        in_a_child = os.getpid() != self.consumer_pid
        if in_a_child and os.getppid() != self.consumer_pid:
            self._logger.warning("the consumer is gone; stopping")
            # The consumer's process loop ends on KeyboardInterrupt, quietly.
            raise KeyboardInterrupt
        super().loop(now)


class OrphanSafeWorker(StopsWithItsConsumer, Worker):
    pass


class OrphanSafeScheduler(StopsWithItsConsumer, Scheduler):
    pass


class OrphanSafeConsumer(Consumer):
    worker_class = OrphanSafeWorker
    scheduler_class = OrphanSafeScheduler


class OrphanSafeConsumerMixin:
    """For a Huey class: `manage.py run_huey` then runs the consumer above."""

    def create_consumer(self, **options: object) -> Consumer:
        return OrphanSafeConsumer(self, **options)


class OrphanSafeSqliteHuey(OrphanSafeConsumerMixin, SqliteHuey):
    """The SQLite queue of `make run` with no Redis."""
