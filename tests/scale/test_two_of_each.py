"""Two web servers and two consumers against one Redis and one PostgreSQL, as on four
hosts: a client alternates between the servers under load, one web server and one
consumer are SIGKILLed mid-load (each with its worker processes), and every event
answered 202 is stored exactly once."""

import threading
import time
import uuid
from datetime import UTC, datetime

import httpx
import psutil
import pytest

from events.models import Event
from tests.scale.web import WebServer
from tests.support import start_consumer, stop_process, wait_for

# A killed consumer's tasks go back to the queue once its lease runs out; short here so
# that the test need not wait the default 30 s for them.
LEASE_SECONDS = "2"


def event() -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "session_id": str(uuid.uuid4()),
        "category": "scale out",
        "name": "load",
        "data": {},
        "timestamp": datetime.now(UTC).isoformat(),
    }


class AlternatingClient:
    """Batches of 10 events, each with its own event_id, sent to the servers in turn; a
    batch that is not answered 202 goes, with the same event_ids, to the next server, as
    a client behind a load balancer retries."""

    def __init__(self, servers: list[WebServer], key: str) -> None:
        self.servers = servers
        self.headers = {"Authorization": f"Bearer {key}"}
        self.accepted: list[str] = []
        self.accepted_by: dict[int, int] = {server.port: 0 for server in servers}
        self.sent: set[str] = set()
        self.other: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        turn = 0
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                batch = [event() for _ in range(10)]
                self.sent.update(item["event_id"] for item in batch)
                while not self.stop.is_set():
                    server = self.servers[turn % len(self.servers)]
                    turn += 1
                    try:
                        status = client.post(
                            f"{server.url}/api/event/", json=batch, headers=self.headers
                        ).status_code
                    except httpx.HTTPError:
                        continue
                    if status == 202:
                        self.accepted.extend(item["event_id"] for item in batch)
                        self.accepted_by[server.port] += 1
                        break
                    if status != 503:
                        self.other.append(status)
                    time.sleep(0.05)

    def __enter__(self) -> "AlternatingClient":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=20)


def consumer_kill(process) -> None:
    """SIGKILL a consumer and its worker processes at once, as when its host goes: the
    tasks its workers held are left in their processing lists."""
    family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for member in family:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()


@pytest.fixture
def web_servers(tmp_path):
    servers = [WebServer(tmp_path / f"host-{n}") for n in (1, 2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def test_it_stores_every_accepted_event_once_with_a_web_server_and_a_consumer_killed(
    web_app, store, web_servers
):
    env = {"EYE_QUEUE_LEASE_SECONDS": LEASE_SECONDS}
    consumers = [start_consumer(workers=2, periodic=False, env=env) for _ in range(2)]
    try:
        with AlternatingClient(web_servers, web_app.writer) as load:
            assert wait_for(lambda: all(load.accepted_by.values()), timeout=15)
            assert wait_for(lambda: len(load.accepted) >= 300, timeout=20)
            # Stored by the consumers while the load goes on, so that the one killed
            # next has tasks in hand.
            assert wait_for(lambda: Event.objects.exists(), timeout=20)
            web_servers[0].kill()
            consumer_kill(consumers[0])
            after_kill = len(load.accepted)
            survivor = web_servers[1].port
            answered_by_survivor = load.accepted_by[survivor]
            # The survivors carry the load on their own.
            assert wait_for(lambda: len(load.accepted) >= after_kill + 300, timeout=20)
            assert load.accepted_by[survivor] > answered_by_survivor
        assert not load.other, f"answers other than 202 and 503: {load.other}"

        accepted = set(load.accepted)

        def all_stored() -> bool:
            return Event.objects.filter(event_id__in=accepted).count() == len(accepted)

        assert wait_for(all_stored, timeout=30), (
            f"{Event.objects.filter(event_id__in=accepted).count()} of "
            f"{len(accepted)} accepted events stored"
        )
    finally:
        for consumer in consumers:
            if consumer.poll() is None:
                stop_process(consumer)

    stored = [str(event_id) for event_id in Event.objects.values_list("event_id", flat=True)]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    # Nothing the client did not send; a batch in flight when its server died may be
    # stored although its answer was lost, and is accepted on its retry anyway.
    assert set(stored) <= load.sent
    assert accepted <= set(stored)
    print(
        f"accepted {len(load.accepted)} events ({load.accepted_by} requests by port), "
        f"{len(stored)} stored"
    )
