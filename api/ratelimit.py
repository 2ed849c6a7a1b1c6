"""Per-key request limits, counted in the shared cache (Redis in production) so that
every web process counts against the same limit."""

import logging
import time

from django.core.cache import cache

from api.errors import ApiError
from events.keys import KeyPrincipal
from tasks.queue import QUEUE_ERRORS

logger = logging.getLogger("eye.api")

WINDOW_SECONDS = 60


def rate_limit_check(principal: KeyPrincipal) -> None:
    """Count this request against the key's limit, if it has one; 429 past it.

    A fixed one-minute window: cheap, and the client is told exactly when the window
    reopens. Keys without a limit cost nothing here.
    """
    limit = principal.rate_limit_per_minute
    if not limit:
        return
    window_count_check(
        f"ratelimit.{principal.key_id}",
        limit=limit,
        field="Authorization",
        message=f"rate limit of {limit} requests a minute exceeded for this key",
    )


def window_count_check(counter: str, *, limit: int, field: str, message: str) -> None:
    """Count one request under `counter` in the current minute; 429 past `limit`."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counter = f"{counter}.{window}"
    try:
        cache.add(counter, 0, timeout=WINDOW_SECONDS + 1)
        count = cache.incr(counter)
    except QUEUE_ERRORS:
        # The limit protects the service; it must not become the reason for an outage.
        # If Redis is down, an ingest request fails at enqueue with 503 anyway.
        logger.warning("rate limit not checked: the cache is unavailable")
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
        raise ApiError(
            429,
            [{"field": field, "message": message}],
            headers={"Retry-After": str(retry_after)},
        )
