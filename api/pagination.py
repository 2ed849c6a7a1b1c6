"""Keyset ("cursor") pagination that also gives the total count the contract promises.

ninja's CursorPagination has no count and pages on one column; this pages on
(timestamp, event_id), so that a page deep in the chain costs the same as the first
and events sharing a timestamp are never repeated or skipped.
"""

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import orjson
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from api.errors import api_error

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def encode_cursor(*, timestamp: datetime, event_id: uuid.UUID, backwards: bool) -> str:
    token = orjson.dumps([timestamp.isoformat(), str(event_id), int(backwards)])
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, uuid.UUID, bool]:
    try:
        padded = token + "=" * (-len(token) % 4)
        timestamp, event_id, backwards = orjson.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(timestamp), uuid.UUID(event_id), bool(backwards)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise api_error(
            422, "is not a cursor this API issued; use next or previous as given", field="cursor"
        ) from None


class CountedKeysetPagination(PaginationBase):
    items_attribute = "results"

    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
        cursor: str | None = Field(None, description="Opaque token from next or previous.")

    class Output(Schema):
        count: int = Field(description="Events matching the filters, over all pages.")
        next: str | None = Field(description="Absolute URL of the next (older) page.")
        previous: str | None = Field(description="Absolute URL of the previous (newer) page.")
        results: list[Any]

    def paginate_queryset(
        self, queryset: QuerySet, pagination: Input, request: HttpRequest, **params: Any
    ) -> dict:
        limit = pagination.limit
        page = queryset
        backwards = False
        if pagination.cursor:
            timestamp, event_id, backwards = decode_cursor(pagination.cursor)
            if backwards:
                newer = Q(timestamp__gt=timestamp) | Q(timestamp=timestamp, event_id__gt=event_id)
                page = queryset.filter(newer).order_by("timestamp", "event_id")
            else:
                older = Q(timestamp__lt=timestamp) | Q(timestamp=timestamp, event_id__lt=event_id)
                page = queryset.filter(older)
        # One row more than asked tells whether another page follows, without a count.
        rows = list(page[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        has_older = (more and not backwards) or (backwards and bool(pagination.cursor))
        has_newer = (more and backwards) or (not backwards and bool(pagination.cursor))
        return {
            "count": queryset.count(),
            "next": self._link(request, rows[-1], backwards=False) if rows and has_older else None,
            "previous": (
                self._link(request, rows[0], backwards=True) if rows and has_newer else None
            ),
            "results": rows,
        }

    @staticmethod
    def _link(request: HttpRequest, row: Any, *, backwards: bool) -> str:
        query = request.GET.copy()
        query["cursor"] = encode_cursor(
            timestamp=row.timestamp, event_id=row.event_id, backwards=backwards
        )
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
