"""Reads of the event store. One selector serves the API, the dashboard and exports, so
a filter means the same thing everywhere."""

import json
import math
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from events.models import Event

# Newest first, ties on timestamp broken by event_id, then by the application (two may
# have sent an event with the same id and timestamp): a total order, which keyset paging
# needs so that it never repeats or skips an event. Every index on the table ends in
# (timestamp, event_id) for the same reason; within one application, which most reads
# filter on, the last column is a constant and the index order is the whole order.
EVENT_ORDERING = ("-timestamp", "-event_id", "-application_id")


def event_list(
    *,
    application_id: int | None = None,
    session_id: uuid.UUID | str | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_inclusive: datetime | None = None,
    end_exclusive: datetime | None = None,
    data_key: str | None = None,
    data_value: str | None = None,
) -> QuerySet[Event]:
    """Events matching every filter given, newest first.

    `data_key` alone keeps events whose data has that key; with `data_value` it keeps those
    where the key holds that value (`data @> {key: value}`, which a GIN index on data can
    serve).
    """
    events = Event.objects.all()
    if application_id is not None:
        events = events.filter(application_id=application_id)
    if session_id is not None:
        events = events.filter(session_id=session_id)
    if category is not None:
        events = events.filter(category=category)
    if name is not None:
        events = events.filter(name=name)
    if start is not None:
        events = events.filter(timestamp__gte=start)
    if end_inclusive is not None:
        events = events.filter(timestamp__lte=end_inclusive)
    if end_exclusive is not None:
        events = events.filter(timestamp__lt=end_exclusive)
    if data_key is not None and data_value is None:
        events = events.filter(data__has_key=data_key)
    if data_key is not None and data_value is not None:
        events = events.filter(_data_holds(data_key, data_value))
    return events.order_by(*EVENT_ORDERING)


# Arrival order, for Live: an event sent late is new to whoever watches the stream.
ARRIVAL_ORDERING = ("-received_at", "-event_id")


def event_arrivals(
    *,
    after: tuple[datetime, uuid.UUID] | None = None,
    since: datetime | None = None,
    up_to: tuple[datetime, uuid.UUID] | None = None,
    **filters: Any,
) -> QuerySet[Event]:
    """Events matching the filters of event_list, in the order they reached the API, newest
    first. `after` keeps those past a (received_at, event_id) position, `up_to` those at or
    before one, and `since` those that arrived at or after an instant."""
    events = event_list(**filters)
    if after is not None:
        received_at, event_id = after
        events = events.filter(
            Q(received_at__gt=received_at) | Q(received_at=received_at, event_id__gt=event_id),
            received_at__gte=received_at,
        )
    if up_to is not None:
        received_at, event_id = up_to
        events = events.filter(
            Q(received_at__lt=received_at) | Q(received_at=received_at, event_id__lte=event_id),
            received_at__lte=received_at,
        )
    if since is not None:
        events = events.filter(received_at__gte=since)
    return events.order_by(*ARRIVAL_ORDERING)


def _data_holds(key: str, value: str) -> Q:
    """Containment of {key: value}. A value typed into a filter is text, while an event may
    hold it as a JSON number, boolean or null (`depth=50`, `paid=true`), so when the text
    reads as such a scalar, either spelling matches."""
    holds = Q(data__contains={key: value})
    try:
        scalar = json.loads(value)
    except ValueError:
        return holds
    # NaN and Infinity parse in Python but have no jsonb spelling.
    if isinstance(scalar, float) and not math.isfinite(scalar):
        return holds
    if scalar is None or isinstance(scalar, bool | int | float):
        holds |= Q(data__contains={key: scalar})
    return holds
