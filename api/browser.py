"""What POST /api/event/ accepts for browsers: the key in the query string (a beacon
cannot set headers), gzip bodies, the client's own send time, and per-address limits
on publishable keys. CORS itself is api/cors.py."""

import logging
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from ninja.security import APIKeyQuery
from pydantic_core import PydanticCustomError

from api.auth import principal_of
from api.cors import origin_check
from api.errors import api_error
from api.inflate import TruncatedGzip, gunzip_at_most
from api.ratelimit import window_count_check
from api.refusals import refused_key_remember
from api.schemas import NO_CLOCK_OFFSETS, ClockOffsets, canonical_uuid, parse_timestamp
from events.keys import KeyPrincipal
from tasks.queue import QUEUE_ERRORS

logger = logging.getLogger("eye.api")


TWO_KEYS = "a key in the URL and another in the Authorization header: send one"


class QueryKeyAuth(APIKeyQuery):
    """`?key=eye_pk_…`, for publishable keys only: a secret key in a URL ends up in access
    logs, proxies and browser history, so it is refused, and the answer says why, even
    beside a valid Authorization header (it is judged first, so a Bearer key cannot make
    the URL's key pass unseen, to be copied into every `next` link of the answer). A
    key in the URL and one in the header at once are refused as well: which one counts
    would be a guess."""

    param_name = "key"

    def __init__(self, *, admit: Callable[[KeyPrincipal], None] | None = None) -> None:
        super().__init__()
        # As ApiKeyAuth's: what the key must pass before the request's parameters are read.
        self.admit = admit

    def authenticate(self, request: HttpRequest, key: str | None) -> KeyPrincipal | None:
        if key is not None and not key.strip() and "Authorization" in request.headers:
            # An empty `?key=` beside a header is still a second credential.
            raise api_error(401, TWO_KEYS, field="key")
        key = (key or "").strip()
        if not key:
            return None
        principal = principal_of(key, field="key")
        if "Authorization" in request.headers and (principal is None or principal.publishable):
            raise api_error(401, TWO_KEYS, field="key")
        if principal is None:
            return None
        if not principal.publishable:
            refused_key_remember(request, principal)
            raise api_error(
                401,
                "a secret key must never be sent in the URL (it would end up in logs); "
                "send it as Authorization: Bearer <key>, or use a publishable key in web pages",
                field="key",
            )
        origin_check(request, principal)
        if self.admit is not None:
            self.admit(principal)
        return principal


def client_address(request: HttpRequest) -> str:
    """The client's address: the last one in EYE_CLIENT_IP_HEADER (the one the proxy in
    front appended; earlier ones are the client's to forge), else the peer's."""
    header = settings.EYE_CLIENT_IP_HEADER
    if header:
        forwarded = request.headers.get(header, "")
        last = forwarded.rsplit(",", 1)[-1].strip()
        if last:
            return last[:64]
    return request.META.get("REMOTE_ADDR", "")


def client_rate_limit_check(request: HttpRequest, principal: KeyPrincipal) -> None:
    """A publishable key is public, so anyone may copy it: each client address gets its
    own limit per key, on top of the key's own."""
    limit = settings.EYE_PUBLISHABLE_IP_RATE_LIMIT
    if not principal.publishable or not limit:
        return
    window_count_check(
        f"ratelimit.{principal.key_id}.ip.{client_address(request)}",
        limit=limit,
        field="key",
        message=f"rate limit of {limit} requests a minute from one address exceeded for this key",
    )


def body_inflate(request: HttpRequest, *, limit: int) -> bytes:
    """The request body, inflated when it says `Content-Encoding: gzip`.

    The limit applies to the inflated body, and inflating stops one byte past it: a body
    that would inflate to gigabytes (a gzip bomb) costs at most `limit` bytes of memory
    and the time to produce them.
    """
    body = request.body
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise api_error(
            415, f"Content-Encoding {encoding[:40]} is not supported; use gzip", field="body"
        )
    try:
        inflated = gunzip_at_most(body, limit=limit + 1)
    except TruncatedGzip:
        raise api_error(400, "gzip body is truncated", field="body") from None
    except zlib.error as exc:
        raise api_error(400, f"body is not valid gzip: {exc}", field="body") from None
    if len(inflated) > limit:
        raise api_error(413, f"body inflates to more than the limit of {limit} bytes", field="body")
    return inflated


# A client's clock closer to ours than CLOCK_TOLERANCE is left alone; the others are
# corrected in whole seconds. The offset measured includes the request's time on the
# network, which changes from one send of the same events to the next, yet an event sent
# twice (a retry after a lost answer, a beacon racing a fetch) must get the same timestamp
# both times, or its (event_id, timestamp) key would not recognise it and it would be
# stored twice. So the offset applied to an event is remembered by its event_id for
# CLOCK_PIN_SECONDS, and a resend gets it again; the first send to pin it wins. Every event
# sent with a send time is pinned, also those left alone: a first send measured within the
# tolerance and a retry slowed past it on the network would otherwise get two timestamps.
# The tracker gives up on a batch after 8 sends over about two minutes, so a quarter of an
# hour covers its retries many times, and bounds the cache to that much browser traffic.
CLOCK_TOLERANCE = timedelta(seconds=10)
CLOCK_PIN_SECONDS = 900


def clock_offsets_get(request: HttpRequest, *, received_at: datetime, payload: Any) -> ClockOffsets:
    """How far the client's clock is behind ours: arrival minus the `sent_at` it reports
    (`?sent_at=` or `X-Eye-Sent-At`), in whole seconds, and for each event sent before,
    the offset it got then; zero when it reports none or its clock is within
    CLOCK_TOLERANCE of ours. Added to each timestamp before validation, which corrects a
    browser clock that is wrong."""
    given = [("sent_at", value) for value in request.GET.getlist("sent_at")]
    if "X-Eye-Sent-At" in request.headers:
        given.append(("X-Eye-Sent-At", request.headers["X-Eye-Sent-At"]))
    if not given:
        return NO_CLOCK_OFFSETS
    if len(given) > 1:
        # Two send times would be two corrections; which one was meant is not ours to guess.
        raise api_error(
            422, "give the send time once, as ?sent_at= or X-Eye-Sent-At", field=given[-1][0]
        )
    [(field, sent_at)] = given
    try:
        measured = received_at - parse_timestamp(sent_at)
    except PydanticCustomError as exc:
        raise api_error(422, exc.message(), field=field) from None
    offset = 0 if abs(measured) < CLOCK_TOLERANCE else round(measured.total_seconds())
    return _offsets_pin(
        timedelta(seconds=offset), payload, application_id=request.auth.application_id
    )


def _event_id(event: Any) -> str | None:
    """An event's id spelt as validation spells it (canonical_uuid), so that a resend
    spelt in capitals finds its pin and the timestamp's validator finds the offset."""
    if not isinstance(event, dict) or not isinstance(event.get("event_id"), str):
        return None
    try:
        return canonical_uuid(event["event_id"])
    except PydanticCustomError:
        return None


def _pins_first(keys: Iterable[str], seconds: int) -> dict[str, int]:
    """Pin `seconds` under each key that no send has pinned yet, and return every key's
    pin: this one, or the one a send made first (a beacon racing a fetch).

    On Redis, one round trip for the whole batch (SET NX, then GET, per key) through the
    cache's own client, which follows its Sentinel master; integers are stored as the
    cache stores them, unpickled. Elsewhere (the SQLite cache of a self-contained run),
    the cache's own atomic `add`, a key at a time."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        found = backend.get_many(list(keys))
        for key in keys:
            if key not in found:
                added = backend.add(key, seconds, CLOCK_PIN_SECONDS)
                found[key] = seconds if added else backend.get(key)
        return {key: pin for key, pin in found.items() if pin is not None}
    names = {backend.make_and_validate_key(key): key for key in keys}
    pipeline = backend._cache.get_client(write=True).pipeline(transaction=False)
    for name in names:
        pipeline.set(name, seconds, nx=True, ex=CLOCK_PIN_SECONDS)
        pipeline.get(name)
    replies = pipeline.execute()[1::2]
    return {
        key: int(reply)
        for key, reply in zip(names.values(), replies, strict=True)
        if reply is not None
    }


def _offsets_pin(measured: timedelta, payload: Any, *, application_id: int) -> ClockOffsets:
    """The offsets the events got when first sent, for those that were; `measured` for
    the others, and remembered for them. A batch may mix both (a retry sends the events
    of earlier sends together), and each keeps its own."""
    events = payload if isinstance(payload, list) else [payload]
    ids = {
        event_id
        for event in events[: settings.EYE_MAX_BATCH_EVENTS]
        if (event_id := _event_id(event)) is not None
    }
    if not ids:
        return ClockOffsets(measured)
    # Per application, as events are stored: another's events are not these.
    keys = {f"clock.{application_id}.{event_id}": event_id for event_id in ids}
    found: dict[str, int] = {}
    try:
        found = _pins_first(keys, int(measured.total_seconds()))
    except QUEUE_ERRORS:
        # Without the cache a resend may be corrected a second differently; the queue is
        # on the same Redis, so the request is about to get 503 anyway.
        logger.warning("clock offsets not pinned: the cache is unavailable")
    pinned = {keys[key]: timedelta(seconds=s) for key, s in found.items()}
    return ClockOffsets(measured, pinned)
