"""The bounded buffer and its policy when full. The proxy holds the first batch in flight,
so that the buffer fills while the test watches."""

import threading
import time

import pytest
from eye_client import BufferFull, Failure

from tests.client.support import SESSION, Hold, stored_names
from tests.support import wait_for


@pytest.fixture
def gate(proxy, make_eye):
    # After make_eye, so that the gate opens before the clients are closed: a held
    # request would otherwise outlast the test.
    gate = threading.Event()
    proxy.rule = lambda seen: Hold(gate) if seen.method == "POST" else None
    yield gate
    gate.set()


def first_batch_in_flight(eye, proxy) -> None:
    eye.track(SESSION, "buffer", "event 0")
    assert proxy.wait_for_requests(1)


def test_it_drops_the_oldest_waiting_events_by_default(proxy, gate, make_eye, web_app, consumer):
    failures: list[Failure] = []
    eye = make_eye(
        proxy.url, web_app.writer, max_buffer=5, flush_interval=0, on_failure=failures.append
    )
    first_batch_in_flight(eye, proxy)

    for i in range(1, 8):
        eye.track(SESSION, "buffer", f"event {i}")

    assert eye.stats.dropped == 2
    assert [f.events[0]["name"] for f in failures] == ["event 1", "event 2"]
    assert all(f.kind == "dropped" and "buffer was full" in f.reason for f in failures)
    gate.set()
    assert eye.flush(timeout=30)
    assert (eye.stats.tracked, eye.stats.sent, eye.stats.dropped) == (8, 6, 2)
    assert wait_for(lambda: len(stored_names()) >= 6, timeout=30)
    assert stored_names() == ["event 0", "event 3", "event 4", "event 5", "event 6", "event 7"]


def test_it_raises_when_full_under_the_raise_policy(proxy, gate, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, max_buffer=3, flush_interval=0, on_full="raise")
    first_batch_in_flight(eye, proxy)
    for i in range(1, 4):
        eye.track(SESSION, "buffer", f"event {i}")

    with pytest.raises(BufferFull):
        eye.track(SESSION, "buffer", "event 4")

    gate.set()
    assert eye.flush(timeout=30)
    assert (eye.stats.tracked, eye.stats.sent, eye.stats.dropped) == (4, 4, 0)


def test_it_waits_for_room_under_the_block_policy(proxy, gate, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, max_buffer=2, flush_interval=0, on_full="block")
    first_batch_in_flight(eye, proxy)
    done = threading.Event()

    def produce() -> None:
        for i in range(1, 6):
            eye.track(SESSION, "buffer", f"event {i}")
        done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.5)
    assert not done.is_set()
    assert eye.stats.tracked == 3

    gate.set()
    assert done.wait(30)
    producer.join(5)
    assert eye.flush(timeout=30)
    assert (eye.stats.tracked, eye.stats.sent, eye.stats.dropped) == (6, 6, 0)


def test_it_gives_up_waiting_after_the_block_timeout(proxy, gate, make_eye, web_app):
    eye = make_eye(
        proxy.url,
        web_app.writer,
        max_buffer=1,
        flush_interval=0,
        on_full="block",
        block_timeout=0.2,
    )
    first_batch_in_flight(eye, proxy)
    eye.track(SESSION, "buffer", "event 1")
    started = time.monotonic()

    with pytest.raises(BufferFull):
        eye.track(SESSION, "buffer", "event 2")

    assert 0.15 <= time.monotonic() - started < 2


def test_it_refuses_values_that_cannot_be_sent_in_the_callers_thread(make_eye, eye_url, web_app):
    eye = make_eye(eye_url, web_app.writer)

    with pytest.raises(ValueError):
        eye.track(SESSION, "bad", "nan", {"x": float("nan")})
    with pytest.raises(TypeError):
        eye.track(SESSION, "bad", "object", {"x": object()})
    with pytest.raises(TypeError):
        eye.track(SESSION, "bad", "list", ["not", "an", "object"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        eye.track(SESSION, "bad", "huge", {"x": "y" * 2_000_000})

    assert eye.stats.tracked == 0
