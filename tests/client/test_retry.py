"""The retry arithmetic: full jitter under an exponential ceiling, Retry-After as a floor."""

import time
from email.utils import formatdate

from eye_client.retry import RetryPolicy, is_retryable, parse_retry_after


def test_it_retries_429_and_5xx_and_nothing_else():
    assert [s for s in (400, 401, 403, 413, 422, 429, 500, 502, 503, 504) if is_retryable(s)] == [
        429,
        500,
        502,
        503,
        504,
    ]


def test_it_reads_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    in_a_minute = parse_retry_after(formatdate(time.time() + 60, usegmt=True))
    assert in_a_minute is not None and 55 <= in_a_minute <= 61
    assert parse_retry_after(formatdate(time.time() - 60, usegmt=True)) == 0.0


def test_it_draws_the_backoff_below_an_exponential_ceiling():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    for attempt, ceiling in ((0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (500, 4.0)):
        draws = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        # Full jitter: spread over the whole range, not bunched at the ceiling.
        assert min(draws) < ceiling / 4 and max(draws) > ceiling * 3 / 4


def test_it_never_waits_less_than_retry_after():
    policy = RetryPolicy(backoff_base=0.5, backoff_max=4.0)
    assert all(policy.delay(0, 3.0) >= 3.0 for _ in range(100))
    assert all(policy.delay(2, 0.0) <= 2.0 for _ in range(100))
