"""Retrying a request: which answers are worth another try, and how long to wait."""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


def is_retryable(status: int) -> bool:
    """429 (rate limited) and every 5xx (503: the queue is full; 502/504: a proxy in the
    way) promise that nothing was accepted, or at worst leave it unknown; a retry with the
    same event ids is safe either way. Other 4xx will fail the same way again."""
    return status == 429 or status >= 500


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `max_retries=None` retries without end."""

    max_retries: int | None = 10
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number `attempt + 1`.

        Full jitter (a uniform draw below the exponential ceiling) spreads the retries of
        many clients that failed together. The server's Retry-After is a floor: it knows
        when it can take the request, and waiting less only earns another refusal.
        """
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** min(attempt, 32))
        backoff = random.uniform(0, ceiling)
        return backoff if retry_after is None else max(retry_after, backoff)


class Aborted(Exception):
    """The client is shutting down and gave up waiting."""


class RetriesExhausted(Exception):
    def __init__(self, problem: str, attempts: int, response: httpx.Response | None) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"gave up after {tries}; the last: {problem}")
        self.problem = problem
        self.attempts = attempts
        self.response = response


def call_with_retries(
    send: Callable[[], httpx.Response],
    *,
    policy: RetryPolicy,
    abort: threading.Event | None = None,
    on_retry: Callable[[str, float], None] | None = None,
) -> httpx.Response:
    """The first answer that is not worth retrying (success or a final refusal).

    Raises RetriesExhausted when the policy runs out, and Aborted when `abort` is set
    (checked before each attempt and during each wait, so shutdown is never held up by a
    long Retry-After).
    """
    attempt = 0
    while True:
        if abort is not None and abort.is_set():
            raise Aborted
        response: httpx.Response | None = None
        retry_after: float | None = None
        try:
            response = send()
        except httpx.TransportError as exc:
            # Connection refused or reset, timeouts, a response cut short: the request may
            # or may not have reached the Eye, and the event ids make a resend harmless.
            problem = f"{type(exc).__name__}: {exc}".rstrip(": ")
        else:
            if not is_retryable(response.status_code):
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            problem = f"HTTP {response.status_code}"
        if policy.max_retries is not None and attempt >= policy.max_retries:
            raise RetriesExhausted(problem, attempt + 1, response)
        wait = policy.delay(attempt, retry_after)
        attempt += 1
        if on_retry is not None:
            on_retry(problem, wait)
        if abort is None:
            time.sleep(wait)
        elif abort.wait(wait):
            raise Aborted
