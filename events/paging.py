"""Keyset paging over the event order (timestamp, event_id), newest first.

A page deep in the chain costs the same as the first, because each page starts from an
index position rather than an offset, and events sharing a timestamp are never repeated or
skipped because event_id breaks the tie. The API and the dashboard page the same way.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime

import orjson
from django.db.models import Q, QuerySet

from events.models import Event


class InvalidCursor(ValueError):
    pass


def encode_cursor(*, timestamp: datetime, event_id: uuid.UUID, backwards: bool) -> str:
    token = orjson.dumps([timestamp.isoformat(), str(event_id), int(backwards)])
    return base64.urlsafe_b64encode(token).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, uuid.UUID, bool]:
    try:
        padded = token + "=" * (-len(token) % 4)
        timestamp, event_id, backwards = orjson.loads(base64.urlsafe_b64decode(padded))
        return datetime.fromisoformat(timestamp), uuid.UUID(event_id), bool(backwards)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise InvalidCursor(token) from None


@dataclass(frozen=True)
class KeysetPage:
    rows: list[Event]
    next_cursor: str | None  # the next, older page
    previous_cursor: str | None  # the previous, newer page


def keyset_page(events: QuerySet[Event], *, cursor: str | None, limit: int) -> KeysetPage:
    """One page of `events` (ordered newest first), starting where `cursor` points."""
    page = events
    backwards = False
    if cursor:
        timestamp, event_id, backwards = decode_cursor(cursor)
        # The plain bound on timestamp says the same as the OR beside it, in a form the
        # planner can use as the start of an index range scan rather than as a filter on
        # every row it walks past.
        if backwards:
            newer = Q(timestamp__gt=timestamp) | Q(timestamp=timestamp, event_id__gt=event_id)
            page = events.filter(newer, timestamp__gte=timestamp).order_by("timestamp", "event_id")
        else:
            older = Q(timestamp__lt=timestamp) | Q(timestamp=timestamp, event_id__lt=event_id)
            page = events.filter(older, timestamp__lte=timestamp)
    # One row more than asked tells whether another page follows, without a count.
    rows = list(page[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    has_older = more if not backwards else True
    has_newer = more if backwards else bool(cursor)
    return KeysetPage(
        rows=rows,
        next_cursor=_cursor_at(rows[-1], backwards=False) if rows and has_older else None,
        previous_cursor=_cursor_at(rows[0], backwards=True) if rows and has_newer else None,
    )


def _cursor_at(row: Event, *, backwards: bool) -> str:
    return encode_cursor(timestamp=row.timestamp, event_id=row.event_id, backwards=backwards)
