"""Refused ingest requests go to a bounded log that the dashboard shows."""

import logging
import time
import zlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone

from api.inflate import TruncatedGzip, gunzip_at_most
from events.keys import KeyPrincipal
from eye.metrics import refusals_unlogged, requests_rejected
from tasks.queue import QUEUE_ERRORS
from tasks.tasks import record_refusal

logger = logging.getLogger("eye.api")

# 429 and 503 say nothing about the client's events, and a flood of either must not
# become a flood of log entries.
RECORDED_STATUSES = {400, 401, 403, 413, 415, 422}

# Metric labels must stay few, so a refusal is labelled by the event field at fault, or
# else by what went wrong; an unknown field a client made up is not a label.
EVENT_FIELDS = {"session_id", "category", "name", "data", "timestamp", "event_id"}
CAUSES = {
    400: "body",
    401: "key",
    403: "rights",
    413: "size",
    415: "body",
    429: "rate_limit",
    503: "queue",
}


def refusal_reason(status: int, errors: list[dict]) -> str:
    if status == 422:
        field = errors[0].get("field") if errors else None
        return field if field in EVENT_FIELDS else "other"
    return CAUSES.get(status, "other")


def refused_key_remember(request: HttpRequest, principal: KeyPrincipal) -> None:
    """The request's key is known but is being refused (a publishable key from an origin
    it does not allow, or sent where it may not go): ninja never sets `request.auth` for
    it, yet its refusal belongs to the key's application, in that application's log."""
    request.refused_principal = principal


def _is_ingest(request: HttpRequest) -> bool:
    """Whether the request was sent to POST /api/event/, resolved even when a middleware
    refused it before any view ran."""
    try:
        return resolve(request.path_info).url_name == "event_create"
    except Resolver404:
        return False


def refusal_note(request: HttpRequest, status: int, errors: list[dict]) -> None:
    """Queue a log entry for a refused POST of events. Best effort: the answer to the
    client does not wait on it or depend on it. Only ingest is logged and counted: a funnel
    asked for wrongly (or while every slot is taken) lost no event, its answer says why,
    and a client asking in a loop must not fill the log that shows lost events."""
    if request.method != "POST" or not _is_ingest(request):
        return
    requests_rejected.labels(str(status), refusal_reason(status, errors)).inc()
    if status not in RECORDED_STATUSES:
        return
    try:
        # A client may declare any length; the log keeps what a bigint holds.
        declared = min(max(0, int(request.META.get("CONTENT_LENGTH") or 0)), 2**63 - 1)
    except ValueError:
        declared = 0
    principal = getattr(request, "auth", None) or getattr(request, "refused_principal", None)
    keyless = principal is None
    if keyless and not keyless_refusal_budget_take(address=request.META.get("REMOTE_ADDR", "")):
        refusals_unlogged.inc()
        return
    # A body refused for its size was never read, and is not read now. Without a key,
    # anyone could fill the log with whatever they like: the body is not kept.
    body = b"" if keyless or declared > settings.EYE_MAX_BODY_BYTES else request.body
    try:
        record_refusal(
            timezone.now(),
            getattr(principal, "application_id", None),
            status,
            errors,
            body_sample(request, body),
            len(body) or declared,
            getattr(request, "request_id", ""),
        )
    except QUEUE_ERRORS:
        logger.warning("refusal not logged: the queue is unavailable")


def body_sample(request: HttpRequest, body: bytes) -> str:
    """The start of a refused body as text, EYE_REFUSAL_BODY_BYTES of it at most. A gzip
    body is inflated that far and no further, so that a gzip bomb costs no more than the
    sample; a body that does not inflate, or in an encoding not taken, is described rather
    than shown as the bytes it is."""
    limit = settings.EYE_REFUSAL_BODY_BYTES
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if not body or encoding in ("", "identity"):
        return body[:limit].decode("utf-8", "replace")
    inflated = gzip_start(body, limit=limit) if encoding == "gzip" else b""
    if not inflated:
        return f"({encoding[:40]} body, {len(body)} bytes)"
    return inflated.decode("utf-8", "replace")


def gzip_start(body: bytes, *, limit: int) -> bytes:
    """As much of the inflated body as there is up to `limit`, even of a truncated
    stream; nothing when it is not gzip."""
    try:
        return gunzip_at_most(body, limit=limit)
    except TruncatedGzip as truncated:
        return truncated.inflated
    except zlib.error:
        return b""


def keyless_refusal_budget_take(*, address: str) -> bool:
    """Whether a refusal without a valid key from `address` may still be logged this
    minute (EYE_KEYLESS_REFUSALS_PER_MINUTE). Counted in the shared cache, so every web
    process draws on the same budget; past it the refusal is only counted in /metrics,
    which costs neither a queue task nor a row."""
    limit = settings.EYE_KEYLESS_REFUSALS_PER_MINUTE
    if not limit:
        return False
    counter = f"refusals.keyless.{address}.{int(time.time() // 60)}"
    try:
        cache.add(counter, 0, timeout=61)
        return cache.incr(counter) <= limit
    except QUEUE_ERRORS:
        return False
