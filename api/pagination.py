"""Cursor pagination of GET /api/event/ with the total count the contract promises.

ninja's CursorPagination has no count and pages on one column; this pages on
(timestamp, event_id, application_id) through events.paging, shared with the dashboard,
and takes the count from events.rollups, which reads the rollups rather than counting
millions of rows.

The page is written here rather than by ninja's response model: validating a hundred rows
into models only to dump them again was most of a page's time in Python. The OpenAPI
schema still says what the answer holds (PagedEventOut).
"""

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema
from pydantic import BaseModel

from api.errors import api_error
from api.schemas import EventOut, timestamp_json
from events.paging import EventValues, InvalidCursor, keyset_values_page
from events.payloads import data_from_json
from events.rollups import event_total_statement
from events.selectors import event_list

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class PageQuery(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    cursor: str | None = Field(None, description="Opaque token from next or previous.")


class PagedEventOut(BaseModel):
    count: int = Field(description="Events matching the filters, over all pages.")
    next: str | None = Field(description="Absolute URL of the next (older) page.")
    previous: str | None = Field(description="Absolute URL of the previous (newer) page.")
    results: list[EventOut]


def event_page_response(
    request: HttpRequest, *, filters: dict[str, Any], page: PageQuery
) -> HttpResponse:
    """The page of the events `filters` (event_list's arguments) match that `page` asks
    for, with the count of them all."""
    try:
        found, count = keyset_values_page(
            event_list(**filters),
            cursor=page.cursor,
            limit=page.limit,
            total=event_total_statement(**filters),
        )
    except InvalidCursor:
        raise api_error(
            422, "is not a cursor this API issued; use next or previous as given", field="cursor"
        ) from None
    answer = {
        "count": count,
        "next": _link(request, found.next_cursor),
        "previous": _link(request, found.previous_cursor),
        "results": [_event_out(row) for row in found.rows],
    }
    return HttpResponse(orjson.dumps(answer), content_type="application/json")


def _event_out(row: EventValues) -> dict[str, Any]:
    # The keys and formats of EventOut, which documents them.
    return {
        "session_id": row.session_id,
        "timestamp": timestamp_json(row.timestamp),
        "category": row.category,
        "name": row.name,
        "data": data_from_json(row.data),
        "event_id": row.event_id,
        "application": row.application_name,
    }


def _link(request: HttpRequest, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = request.GET.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
