"""429: the client waits as long as Retry-After asks, and shutdown is not held up by it."""

import time

from tests.client.support import SESSION, Answer


def test_it_waits_as_long_as_retry_after_says(proxy, make_eye, web_app):
    proxy.rule = lambda seen: Answer(429, {"Retry-After": "1"}) if seen.number == 1 else None
    # The backoff alone would retry within milliseconds.
    eye = make_eye(proxy.url, web_app.writer, backoff_base=0.001, backoff_max=0.001)

    eye.track(SESSION, "rate", "patient")

    assert eye.flush(timeout=30)
    first, second = proxy.requests("POST")
    assert first.status == 429 and second.status == 202
    assert second.at - first.at >= 0.95
    assert (eye.stats.sent, eye.stats.retried) == (1, 1)


def test_it_reads_retry_after_given_as_a_date(proxy, make_eye, web_app):
    from email.utils import formatdate

    def rule(seen):
        if seen.number == 1:
            return Answer(429, {"Retry-After": formatdate(time.time() + 2, usegmt=True)})
        return None

    proxy.rule = rule
    eye = make_eye(proxy.url, web_app.writer, backoff_base=0.001, backoff_max=0.001)

    eye.track(SESSION, "rate", "patient")

    assert eye.flush(timeout=30)
    first, second = proxy.requests("POST")
    # An HTTP date has whole seconds: 2 s ahead is at least 1 s away.
    assert second.at - first.at >= 0.95


def test_it_retries_the_eyes_own_429_and_close_does_not_wait_it_out(eye_url, make_eye, web_app):
    # One request a minute: whichever request comes second in a minute gets the Eye's 429,
    # with a Retry-After until the minute ends.
    key = web_app.issue(read=False, write=True, rate_limit=1)
    eye = make_eye(eye_url, key, batch_size=1, flush_interval=0)
    for i in range(3):
        eye.track(SESSION, "rate", f"event {i}")
    assert not eye.flush(timeout=1.0)

    started = time.monotonic()
    eye.close(timeout=0.5)

    assert time.monotonic() - started < 3
    stats = eye.stats
    assert stats.refused == 0
    assert stats.retried >= 1
    assert stats.sent + stats.dropped == 3
    assert stats.dropped >= 1
