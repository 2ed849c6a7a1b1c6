"""POST and GET /api/event/: thin handlers that parse, call a task or a selector, and return."""

import uuid
from datetime import datetime
from typing import Any

import orjson
import pydantic
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router, Status
from pydantic import TypeAdapter

from api.auth import ApiKeyAuth, readable_application_id, reading_admit, require_write
from api.browser import QueryKeyAuth, body_inflate, client_rate_limit_check, clock_offsets_get
from api.errors import ApiError, api_error, pydantic_errors
from api.json_faults import json_fault
from api.pagination import PagedEventOut, PageQuery, event_page_response
from api.policies import event_policies_check
from api.query_parameters import query_parameters_check
from api.ratelimit import rate_limit_check
from api.schemas import (
    NO_CLOCK_OFFSETS,
    AcceptedOut,
    ClockOffsets,
    ErrorOut,
    EventIn,
    EventQuery,
    IngestLimits,
)
from events.services import Delivery, EventRow
from eye.metrics import events_accepted
from eye.replica import reads_from_replica
from tasks.queue import QUEUE_ERRORS
from tasks.tasks import store_events_enqueue

# Publishable keys come to these two endpoints only: GET refuses them for want of read rights.
router = Router(tags=["events"], auth=[QueryKeyAuth(), ApiKeyAuth(publishable=True)])

_one_event = TypeAdapter(EventIn)
_many_events = TypeAdapter(list[EventIn])

ERROR_RESPONSES: dict[int, Any] = {
    status: ErrorOut for status in (400, 401, 403, 413, 422, 429, 503)
}


def _request_body_schema() -> dict:
    event = EventIn.model_json_schema()
    batch = {
        "type": "array",
        "items": event,
        "minItems": 1,
        "maxItems": settings.EYE_MAX_BATCH_EVENTS,
    }
    return {
        "required": True,
        # text/plain is what browsers send without a preflight (api/browser.py).
        "content": {
            kind: {"schema": {"oneOf": [event, batch]}}
            for kind in ("application/json", "text/plain")
        },
    }


def read_json_body(request: HttpRequest) -> Any:
    """The parsed body; the size is checked before anything is read or parsed."""
    limit = settings.EYE_MAX_BODY_BYTES
    too_large = api_error(413, f"body is larger than the limit of {limit} bytes", field="body")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise api_error(400, "Content-Length is not a number", field="body") from None
    if declared > limit:
        raise too_large
    body = body_inflate(request, limit=limit)
    if len(body) > limit:
        raise too_large
    if not body.strip():
        raise api_error(
            400, "body is empty; send one event object or an array of them", field="body"
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        fault = json_fault(body)
        raise fault or api_error(400, f"body is not valid JSON: {exc}", field="body") from None


def validate_events(
    payload: Any, *, now: datetime, clock: ClockOffsets = NO_CLOCK_OFFSETS
) -> list[EventIn]:
    """Every event of the body, or a 422 naming each fault (with its index in a batch)."""
    context = {"limits": IngestLimits.at(now, clock=clock)}
    if isinstance(payload, dict):
        try:
            return [_one_event.validate_python(payload, context=context)]
        except pydantic.ValidationError as exc:
            raise ApiError(422, pydantic_errors(exc, batch=False)) from None
    if isinstance(payload, list):
        if not payload:
            raise api_error(
                422,
                f"batch is empty; send 1 to {settings.EYE_MAX_BATCH_EVENTS} events",
                field="body",
            )
        if len(payload) > settings.EYE_MAX_BATCH_EVENTS:
            raise api_error(
                413,
                f"batch has {len(payload)} events; the limit is {settings.EYE_MAX_BATCH_EVENTS}",
                field="body",
            )
        try:
            return _many_events.validate_python(payload, context=context)
        except pydantic.ValidationError as exc:
            raise ApiError(422, pydantic_errors(exc, batch=True)) from None
    raise api_error(400, "body must be one event object or an array of event objects", field="body")


@router.post(
    "/event/",
    response={202: AcceptedOut, **ERROR_RESPONSES},
    summary="Create event logs",
    openapi_extra={"requestBody": _request_body_schema()},
)
def event_create(request: HttpRequest) -> Status:
    """Validate one event or a batch and queue it for storage.

    202 means every event is durably queued and will be stored exactly once; any other
    answer means nothing was accepted.
    """
    received_at = timezone.now()
    require_write(request.auth)
    rate_limit_check(request.auth)
    client_rate_limit_check(request, request.auth)
    payload = read_json_body(request)
    clock = clock_offsets_get(request, received_at=received_at, payload=payload)
    events = validate_events(payload, now=received_at, clock=clock)
    event_policies_check(
        events,
        application_id=request.auth.application_id,
        now=received_at,
        batch=isinstance(payload, list),
    )
    event_ids = [event.event_id or str(uuid.uuid4()) for event in events]
    rows = [
        EventRow(
            event_id,
            event.timestamp,
            event.session_id,
            event.category,
            event.name,
            orjson.dumps(event.data).decode(),
        )
        for event, event_id in zip(events, event_ids, strict=True)
    ]
    try:
        store_events_enqueue(
            Delivery(rows, request.auth.application_id, received_at, request.request_id)
        )
    except QUEUE_ERRORS:
        raise api_error(
            503, "the queue cannot take events right now; nothing was accepted, retry later"
        ) from None
    events_accepted.inc(len(rows))
    return Status(202, {"success": True, "accepted": len(rows), "event_ids": event_ids})


@router.get(
    "/event/",
    response={200: PagedEventOut, **ERROR_RESPONSES},
    summary="Query event logs",
    # The key's rights and rate limit before its filters: see ApiKeyAuth's `admit`.
    auth=[QueryKeyAuth(admit=reading_admit), ApiKeyAuth(publishable=True, admit=reading_admit)],
)
@reads_from_replica
def event_query(
    request: HttpRequest, filters: Query[EventQuery], page: Query[PageQuery]
) -> HttpResponse:
    """Events of the key's application (of every application for a key with that right),
    newest first, filtered and paged by cursor."""
    # `key` is a credential (QueryKeyAuth's), not a filter: the auth has dealt with it.
    known = set(EventQuery.model_fields) | set(PageQuery.model_fields) | {QueryKeyAuth.param_name}
    query_parameters_check(request, known=known)
    application_id = readable_application_id(request.auth, filters.application)
    selection = {"application_id": application_id, **filters.selection()}
    return event_page_response(request, filters=selection, page=page)
