"""Huey's consumer, with worker processes that stop once the consumer itself is gone.

The consumer runs its workers and scheduler as child processes. Killed outright (SIGKILL,
the kernel's OOM killer), it leaves them running with nobody to stop them: they would keep
taking tasks beside the consumer started in its place, and no Ctrl-C would reach them.
Here each one checks, between two tasks, that its consumer is still its parent, and
stops when it is not: after the task in hand, so that nothing it took is dropped.
"""

import os

from huey import SqliteHuey
from huey.consumer import Consumer, Scheduler, Worker


class StopsWithItsConsumer:
    """For Huey's worker and scheduler processes (a mixin before their class)."""

    def initialize(self) -> None:
        self.consumer_pid = os.getppid()
        super().initialize()

    def loop(self, now: object = None) -> None:
        if os.getppid() != self.consumer_pid:
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
