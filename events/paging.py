"""Keyset paging over the event order (timestamp, event_id, application_id), newest first.

A page deep in the chain costs the same as the first, because each page starts from an
index position rather than an offset, and events sharing a timestamp are never repeated or
skipped because event_id breaks the tie (and the application, for two applications' events
with the same id and timestamp). The API and the dashboard page the same way.
"""

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, NamedTuple, TypeVar

import orjson
from django.db.models import OuterRef, QuerySet, Subquery

from events.models import Application, Event
from events.round_trips import Statement, statements_fetch
from events.selectors import EVENT_ORDERING, keyset_beyond


class InvalidCursor(ValueError):
    pass


def cursor_token(fields: list[object]) -> str:
    """A cursor as it travels in a URL: its fields as JSON in URL-safe base64, unpadded."""
    return base64.urlsafe_b64encode(orjson.dumps(fields)).decode().rstrip("=")


def cursor_fields(token: str) -> Any:
    """The fields of a cursor_token. Anything else raises ValueError (binascii's and
    orjson's errors are ValueErrors)."""
    return orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def cursor_instant(text: str) -> datetime:
    """A cursor's instant, as this server writes them: with an offset, and on the calendar
    once in UTC. A forged one ("9999-12-31T23:59-23:59", or one without an offset) raises
    ValueError here rather than reaching the database, which cannot hold or compare it."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("a cursor's instant must have an offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("a cursor's instant is off the calendar") from None


def cursor_event_id(text: str) -> uuid.UUID:
    """A cursor's event id. A forged one that is not text (a number, a list) raises
    ValueError like a malformed one, where uuid.UUID would raise AttributeError."""
    if not isinstance(text, str):
        raise ValueError("a cursor's event id must be text")
    return uuid.UUID(text)


class Position(NamedTuple):
    """Where a cursor points in the event order. `application_id` is None in the cursors
    issued before events were unique per application, which point at every application's
    event with that timestamp and id at once (there was only one)."""

    timestamp: datetime
    event_id: uuid.UUID
    application_id: int | None
    backwards: bool

    @property
    def key(self) -> tuple[datetime, uuid.UUID, int | None]:
        """The position's values in EVENT_ORDERING's columns."""
        return (self.timestamp, self.event_id, self.application_id)


def cursor_application_id(rest: list) -> int | None:
    """The application id that ends a cursor, or None for a cursor issued before cursors
    carried one. Anything else (a second extra field, a float, a bool) raises ValueError."""
    if len(rest) > 1 or not all(type(field) is int for field in rest):
        raise ValueError("a cursor's application must be one whole number")
    return rest[0] if rest else None


def encode_cursor(
    *, timestamp: datetime, event_id: uuid.UUID, application_id: int, backwards: bool
) -> str:
    return cursor_token([timestamp.isoformat(), str(event_id), int(backwards), application_id])


def decode_cursor(token: str) -> Position:
    try:
        timestamp, event_id, backwards, *rest = cursor_fields(token)
        return Position(
            cursor_instant(timestamp),
            cursor_event_id(event_id),
            cursor_application_id(rest),
            bool(backwards),
        )
    except (ValueError, TypeError):
        raise InvalidCursor(token) from None


Row = TypeVar("Row", Event, "EventValues")


@dataclass(frozen=True)
class KeysetPage(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None  # the next, older page
    previous_cursor: str | None  # the previous, newer page


class EventValues(NamedTuple):
    """An event's columns as an answer writes them: plain values, `data` as its JSON text."""

    event_id: uuid.UUID
    timestamp: datetime
    session_id: uuid.UUID
    category: str
    name: str
    data: str
    application_id: int
    application_name: str


def keyset_page(events: QuerySet[Event], *, cursor: str | None, limit: int) -> KeysetPage[Event]:
    """One page of `events` (ordered newest first), starting where `cursor` points."""
    page, backwards = _from_cursor(events, cursor)
    return _page(list(page[: limit + 1]), cursor=cursor, limit=limit, backwards=backwards)


def keyset_values_page(
    events: QuerySet[Event], *, cursor: str | None, limit: int, total: Statement
) -> tuple[KeysetPage[EventValues], int]:
    """keyset_page as plain values, with the number `total` (a statement giving one
    number, such as events.rollups.event_total_statement) read in the same round trip.

    A page of model instances spends most of its time in Python: an Event built per row,
    its timestamps parsed by Django's pure-Python loader and its data decoded by the
    standard json module. Here the rows come as tuples, timestamps through psycopg's C
    loader, and data stays the JSON text the database sent."""
    page, backwards = _from_cursor(events, cursor)
    # The name as a subquery of each row, not a join: it is looked up for the rows the
    # page returns only, and leaves the plan of the page itself as it was.
    named = page.annotate(
        application_name=Subquery(
            # Unordered: the model's ordering by name would sort each row's one name.
            Application.objects.filter(pk=OuterRef("application_id")).order_by().values("name")
        )
    )
    rows_statement = named.values_list(*EventValues._fields)[: limit + 1].query.sql_with_params()
    rows, [(count,)] = statements_fetch(page.db, [rows_statement, total])
    values = [EventValues(*row) for row in rows]
    return _page(values, cursor=cursor, limit=limit, backwards=backwards), int(count)


def _from_cursor(events: QuerySet[Event], cursor: str | None) -> tuple[QuerySet[Event], bool]:
    if not cursor:
        return events, False
    position = decode_cursor(cursor)
    # The plain bound on timestamp says the same as the OR beside it, in a form the
    # planner can use as the start of an index range scan rather than as a filter on
    # every row it walks past.
    if position.backwards:
        newer = keyset_beyond(EVENT_ORDERING, position.key, "gt")
        oldest_first = [name.lstrip("-") for name in EVENT_ORDERING]
        return events.filter(newer, timestamp__gte=position.timestamp).order_by(*oldest_first), True
    older = keyset_beyond(EVENT_ORDERING, position.key, "lt")
    return events.filter(older, timestamp__lte=position.timestamp), False


def _page(rows: list[Row], *, cursor: str | None, limit: int, backwards: bool) -> KeysetPage[Row]:
    # One row more than asked tells whether another page follows, without a count.
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


def _cursor_at(row: Event | EventValues, *, backwards: bool) -> str:
    return encode_cursor(
        timestamp=row.timestamp,
        event_id=row.event_id,
        application_id=row.application_id,
        backwards=backwards,
    )
