"""Delivery through trouble: 503s, lost connections and lost answers, between the client
and a real Eye that stores what it accepts."""

import threading
import time

from eye_client import Failure

from tests.client.support import SESSION, Answer, Drop, FaultyProxy, Seen, stored_count
from tests.support import wait_for


def test_it_stores_exactly_ten_thousand_events_through_503s_and_lost_connections(
    proxy: FaultyProxy, make_eye, web_app, consumer
):
    from events.models import Event

    def rule(seen: Seen):
        if seen.method != "POST":
            return None
        if seen.number % 5 == 0:
            return Answer(503, {"Retry-After": "0"})
        if seen.number % 7 == 0:
            # The Eye accepts the batch but the client never hears it: only the event ids
            # stop the retry from storing it twice.
            return Drop(forward=True)
        if seen.number % 11 == 0:
            return Drop()
        return None

    proxy.rule = rule
    eye = make_eye(proxy.url, web_app.writer, batch_size=100, flush_interval=0.05)
    event_ids: list[str] = []
    lock = threading.Lock()

    def produce(worker: int) -> None:
        # Several threads at once: track() must be safe to share.
        ids = [
            eye.track(SESSION, "load", f"event {worker}-{i}", {"worker": worker, "i": i})
            for i in range(2500)
        ]
        with lock:
            event_ids.extend(ids)

    threads = [threading.Thread(target=produce, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert eye.flush(timeout=120), eye.stats
    stats = eye.stats
    assert (stats.tracked, stats.sent, stats.refused, stats.dropped) == (10_000, 10_000, 0, 0)
    posts = proxy.requests("POST")
    answered_503 = [s for s in posts if s.status == 503]
    answers_lost = [s for s in posts if s.status is None and s.forwarded]
    requests_lost = [s for s in posts if s.status is None and not s.forwarded]
    assert answered_503 and answers_lost and requests_lost
    assert stats.retried == len(answered_503) + len(answers_lost) + len(requests_lost)

    assert wait_for(lambda: stored_count() >= 10_000, timeout=90), stored_count()
    # Give a duplicate, if any were coming, the time to arrive.
    time.sleep(1.0)
    assert stored_count() == 10_000, Event.objects.exclude(name__startswith="event ").count()
    stored_ids = {str(i) for i in Event.objects.values_list("event_id", flat=True)}
    assert stored_ids == set(event_ids)
    page = next(make_eye(proxy.url, web_app.reader).pages(page_size=1))
    assert page.count == 10_000


def test_it_retries_when_connections_fail_then_delivers(proxy, make_eye, web_app):
    proxy.rule = lambda seen: Drop() if seen.number <= 3 else None
    eye = make_eye(proxy.url, web_app.writer)

    for i in range(5):
        eye.track(SESSION, "retry", f"event {i}")

    assert eye.flush(timeout=30)
    assert (eye.stats.sent, eye.stats.retried, eye.stats.dropped) == (5, 3, 0)
    assert [s.status for s in proxy.requests("POST")] == [None, None, None, 202]


def test_it_gives_up_after_max_retries_and_reports_the_events_dropped(proxy, make_eye, web_app):
    proxy.rule = lambda seen: Answer(503, {"Retry-After": "0"})
    failures: list[Failure] = []
    eye = make_eye(proxy.url, web_app.writer, max_retries=2, on_failure=failures.append)

    eye.track(SESSION, "retry", "lost one")
    eye.track(SESSION, "retry", "lost two")

    assert eye.flush(timeout=30)
    assert (eye.stats.sent, eye.stats.dropped, eye.stats.retried) == (0, 2, 2)
    assert len(proxy.requests("POST")) == 3
    [failure] = failures
    assert failure.kind == "dropped"
    assert failure.status == 503
    assert "gave up after 3 attempts" in failure.reason
    assert [event["name"] for event in failure.events] == ["lost one", "lost two"]


def test_it_sends_a_batch_as_soon_as_it_is_full(proxy, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, batch_size=10, flush_interval=60)

    for i in range(25):
        eye.track(SESSION, "size", f"event {i}")

    assert proxy.wait_for_requests(2)
    time.sleep(0.3)
    assert [len(s.events) for s in proxy.requests("POST")] == [10, 10]
    assert eye.stats.buffered == 5


def test_it_sends_a_partial_batch_once_the_interval_has_passed(proxy, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, batch_size=100, flush_interval=0.3)
    started = time.monotonic()

    for i in range(3):
        eye.track(SESSION, "interval", f"event {i}")

    assert proxy.wait_for_requests(1, timeout=5)
    waited = proxy.requests("POST")[0].at - started
    assert 0.25 <= waited < 3
    assert [e["name"] for e in proxy.requests("POST")[0].events] == [
        "event 0",
        "event 1",
        "event 2",
    ]


def test_it_keeps_each_body_under_the_size_limit(proxy, make_eye, web_app):
    eye = make_eye(proxy.url, web_app.writer, batch_size=1000, max_body_bytes=20_000)

    for i in range(60):
        eye.track(SESSION, "size", f"event {i}", {"padding": "x" * 1000})

    assert eye.flush(timeout=30)
    posts = proxy.requests("POST")
    assert all(len(s.body) <= 20_000 for s in posts)
    assert len(posts) >= 3
    assert sum(len(s.events) for s in posts) == 60
    assert eye.stats.sent == 60


def test_it_gives_every_event_an_id_and_keeps_it_across_retries(proxy, make_eye, web_app):
    proxy.rule = lambda seen: Answer(503, {"Retry-After": "0"}) if seen.number == 1 else None
    eye = make_eye(proxy.url, web_app.writer)

    given = eye.track(SESSION, "ids", "mine", event_id="5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10")
    made = eye.track(SESSION, "ids", "made")

    assert eye.flush(timeout=30)
    first, second = proxy.requests("POST")
    assert first.body == second.body
    assert [e["event_id"] for e in second.events] == [given, made]
    assert given == "5b0c4a2e-2f0a-4a8e-9a57-2f1c9e1d7b10"
