"""The queue behind Redis Sentinel, with real processes: the master SIGKILLed under load.
The API answers 503 for a few seconds, then accepts on the promoted replica; every event
answered 202 is stored exactly once."""

import signal
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from events.models import Event
from tests.scale.sentinel import SentinelSet
from tests.support import start_consumer, stop_process, wait_for


@pytest.fixture
def sentinel_set(tmp_path):
    redis_set = SentinelSet(tmp_path)
    redis_set.start()
    yield redis_set
    redis_set.stop()


def event(label: str) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "category": "failover",
        "name": label,
        "data": {},
        "timestamp": datetime.now(UTC).isoformat(),
    }


def test_it_stores_every_accepted_event_once_across_a_failover(
    api, web_app, huey, store, sentinel_set
):
    from tests.support import queue_moved_to

    consumer = start_consumer(env={"EYE_REDIS_URL": sentinel_set.url})
    # Read what the consumer says as it says it: a full pipe would stop it mid-load.
    consumer_output: list[str] = []
    threading.Thread(target=lambda: consumer_output.extend(consumer.stdout), daemon=True).start()
    accepted: list[str] = []
    refused: list[list[str]] = []
    refused_at: list[float] = []
    other: list[int] = []
    stop = threading.Event()
    killed_at: list[float] = []

    def post_until_stopped() -> None:
        while not stop.is_set():
            batch = [event("load") for _ in range(5)]
            status = api.post(batch, key=web_app.writer).status_code
            ids = [item["event_id"] for item in batch]
            if status == 202:
                accepted.extend(ids)
            elif status == 503:
                refused.append(ids)
                refused_at.append(time.monotonic())
            else:
                other.append(status)

    with queue_moved_to(huey, sentinel_set.url, wait_replicas=1, wait_timeout_ms=500):
        try:
            poster = threading.Thread(target=post_until_stopped)
            poster.start()
            time.sleep(2)
            before_kill = len(accepted)
            old_master = sentinel_set.master_address()
            killed_at.append(sentinel_set.kill_master())
            # Accepting again on the new master, within the failover's few seconds.
            assert wait_for(lambda: len(accepted) > before_kill + 50, timeout=20)
            recovered_at = time.monotonic()
            time.sleep(2)
            stop.set()
            poster.join(timeout=30)
            assert sentinel_set.master_address() != old_master
            assert not other, f"answers other than 202 and 503: {other}"
            assert before_kill > 0
            assert recovered_at - killed_at[0] < 15

            def all_stored() -> bool:
                return Event.objects.filter(event_id__in=accepted).count() == len(accepted)

            assert wait_for(all_stored, timeout=60), (
                f"{Event.objects.filter(event_id__in=accepted).count()} of "
                f"{len(accepted)} accepted events stored; the consumer said:\n"
                + "".join(consumer_output[-40:])
            )
        finally:
            stop.set()
            stop_process(consumer)

    stored = list(Event.objects.values_list("event_id", flat=True))
    assert len(stored) == len(set(stored)), "an event was stored twice"
    refused_ids = {event_id for ids in refused for event_id in ids}
    assert set(map(str, stored)) <= set(accepted) | refused_ids
    # A 503 means nothing was accepted. The one exception no protocol avoids: the request
    # in flight when the master died may have reached the replica before its answer was
    # lost. So at most one refused request may show up stored, and then whole.
    stored_refused = [ids for ids in refused if set(ids) & set(map(str, stored))]
    assert len(stored_refused) <= 1
    if refused_at:
        assert refused_at[-1] - killed_at[0] < 15, "503s went on long after the failover"
    print(
        f"accepted {len(accepted)} events, refused {len(refused)} requests within "
        f"{(refused_at[-1] - killed_at[0]) if refused_at else 0:.1f} s of the kill, "
        f"accepting again {recovered_at - killed_at[0]:.1f} s after it"
    )


def test_it_withdraws_and_refuses_a_task_that_no_replica_confirmed(
    api, web_app, huey, sentinel_set
):
    from tests.support import queue_moved_to

    with queue_moved_to(huey, sentinel_set.url, wait_replicas=1, wait_timeout_ms=300):
        assert api.post(event("before"), key=web_app.writer).status_code == 202
        # A replica that stops answering (frozen, or its network gone) still looks
        # connected to the master for a while, but confirms nothing.
        sentinel_set.processes["replica"].send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            refused = api.post([event("unconfirmed") for _ in range(3)], key=web_app.writer)
            assert refused.status_code == 503
            assert time.monotonic() - started < 5
            # Nothing of the refused request is left in the queue: only the first task.
            [task] = huey.pending()
            assert task.args[0][0][4] == "before"
        finally:
            sentinel_set.processes["replica"].send_signal(signal.SIGCONT)
