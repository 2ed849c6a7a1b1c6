"""A consumer's worker processes stop once it is gone, however it went."""

import os
import select
import time

from tasks.consumer import OrphanSafeConsumer


def test_a_worker_forked_as_its_consumer_dies_stops(huey):
    """The consumer is killed while it forks: the new worker starts with its consumer
    already gone, and the process that adopted it as its parent."""
    outcome_read, outcome_write = os.pipe()
    consumer_pid = os.fork()
    if consumer_pid == 0:  # the consumer
        try:
            # Made in the consumer, and forked, as Huey makes and starts its workers.
            worker = OrphanSafeConsumer(huey, workers=1, worker_type="process")._create_worker()
            consumer = os.getpid()
            if os.fork() == 0:  # its worker, which starts only once its consumer is gone
                try:
                    while os.getppid() == consumer:
                        time.sleep(0.01)
                    worker.initialize()
                    try:
                        worker.loop()
                        os.write(outcome_write, b"went on taking tasks")
                    except KeyboardInterrupt:
                        os.write(outcome_write, b"stopped")
                finally:
                    os._exit(0)
        finally:
            os._exit(0)
    os.waitpid(consumer_pid, 0)
    os.close(outcome_write)

    ready, _, _ = select.select([outcome_read], [], [], 30)
    assert ready, "the worker did not come back from its first loop"
    assert os.read(outcome_read, 100) == b"stopped"
    os.close(outcome_read)
