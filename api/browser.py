"""What POST /api/event/ accepts for browsers: the key in the query string (a beacon
cannot set headers), gzip bodies, the client's own send time, and per-address limits
on publishable keys. CORS itself is api/cors.py."""

import zlib
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyQuery
from pydantic_core import PydanticCustomError

from api.auth import principal_of
from api.cors import origin_check
from api.errors import api_error
from api.ratelimit import window_count_check
from api.schemas import parse_timestamp
from events.keys import KeyPrincipal


class QueryKeyAuth(APIKeyQuery):
    """`?key=eye_pk_…`, for publishable keys only: a secret key in a URL ends up in access
    logs, proxies and browser history, so it is refused, and the answer says why."""

    param_name = "key"

    def authenticate(self, request: HttpRequest, key: str | None) -> KeyPrincipal | None:
        key = (key or "").strip()
        if not key:
            return None
        principal = principal_of(key, field="key")
        if principal is None:
            return None
        if not principal.publishable:
            raise api_error(
                401,
                "a secret key must never be sent in the URL (it would end up in logs); "
                "send it as Authorization: Bearer <key>, or use a publishable key in web pages",
                field="key",
            )
        origin_check(request, principal)
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
    inflated = bytearray()
    rest = body
    try:
        # A gzip stream may hold several members one after the other.
        while rest:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            inflated += inflater.decompress(rest, limit + 1 - len(inflated))
            if len(inflated) > limit:
                raise api_error(
                    413,
                    f"body inflates to more than the limit of {limit} bytes",
                    field="body",
                )
            if not inflater.eof:
                raise api_error(400, "gzip body is truncated", field="body")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise api_error(400, f"body is not valid gzip: {exc}", field="body") from None
    return bytes(inflated)


# Clocks closer to ours than this are left alone, and the correction of the others is
# whole seconds. The offset measured includes the request's time on the network, which
# differs from one send of the same events to the next; an event sent twice (a retry after
# a lost answer) must get the same timestamp both times, or its (event_id, timestamp) key
# would not recognise it and it would be stored twice.
CLOCK_TOLERANCE = timedelta(seconds=10)


def clock_offset_get(request: HttpRequest, *, received_at: datetime) -> timedelta:
    """How far the client's clock is behind ours: arrival minus the `sent_at` it reports
    (`?sent_at=` or `X-Eye-Sent-At`), in whole seconds; zero when it reports none or its
    clock is within CLOCK_TOLERANCE of ours. Added to every timestamp before validation,
    which corrects a browser clock that is wrong."""
    field = "sent_at"
    sent_at = request.GET.get("sent_at")
    if sent_at is None:
        field = "X-Eye-Sent-At"
        sent_at = request.headers.get("X-Eye-Sent-At")
    if sent_at is None:
        return timedelta(0)
    try:
        offset = received_at - parse_timestamp(sent_at)
    except PydanticCustomError as exc:
        raise api_error(422, exc.message(), field=field) from None
    if abs(offset) < CLOCK_TOLERANCE:
        return timedelta(0)
    return timedelta(seconds=round(offset.total_seconds()))
