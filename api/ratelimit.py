"""Per-key request limits, counted in Redis so that every web process shares them."""

import logging
import time

from huey.contrib.djhuey import HUEY
from redis import RedisError

from api.errors import ApiError
from events.keys import KeyPrincipal

logger = logging.getLogger("eye.api")

WINDOW_SECONDS = 60


def rate_limit_check(principal: KeyPrincipal) -> None:
    """Count this request against the key's limit, if it has one; 429 past it.

    A fixed one-minute window: one pipelined round trip, and the client is told exactly
    when the window reopens. Keys without a limit cost nothing here.
    """
    limit = principal.rate_limit_per_minute
    if not limit:
        return
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    counter = f"eye.ratelimit.{HUEY.name}.{principal.key_id}.{window}"
    try:
        pipe = HUEY.storage.conn.pipeline(transaction=False)
        pipe.incr(counter)
        pipe.expire(counter, WINDOW_SECONDS + 1)
        count = pipe.execute()[0]
    except RedisError:
        # The limit protects the service; it must not become the reason for an outage.
        # If Redis is down, an ingest request fails at enqueue with 503 anyway.
        logger.warning("rate limit not checked: Redis unavailable")
        return
    if count > limit:
        retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
        raise ApiError(
            429,
            [
                {
                    "field": "Authorization",
                    "message": f"rate limit of {limit} requests a minute exceeded for this key",
                }
            ],
            headers={"Retry-After": str(retry_after)},
        )
