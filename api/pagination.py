"""Cursor pagination of GET /api/event/ that also gives the total count the contract
promises.

ninja's CursorPagination has no count and pages on one column; this one pages on
(timestamp, event_id) through events.paging, shared with the dashboard, and takes the
count from events.rollups, which reads the rollups rather than counting millions of rows.
It reads the endpoint's filters from the view's arguments, so it serves that view only.
"""

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase

from api.errors import api_error
from events.paging import InvalidCursor, keyset_page
from events.rollups import event_total

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


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
        try:
            page = keyset_page(queryset, cursor=pagination.cursor, limit=pagination.limit)
        except InvalidCursor:
            raise api_error(
                422,
                "is not a cursor this API issued; use next or previous as given",
                field="cursor",
            ) from None
        count = event_total(
            application_id=request.auth.read_application_id, **params["filters"].selection()
        )
        return {
            "count": count,
            "next": self._link(request, page.next_cursor),
            "previous": self._link(request, page.previous_cursor),
            "results": page.rows,
        }

    @staticmethod
    def _link(request: HttpRequest, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        query = request.GET.copy()
        query["cursor"] = cursor
        return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
