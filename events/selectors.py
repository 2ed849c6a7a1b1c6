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


def keyset_beyond(ordering: tuple[str, ...], position: tuple, lookup: str) -> Q:
    """The rows past `position` (one value per column of `ordering`) by `lookup` on the
    first column that differs: "gt" or "lt", or "gte"/"lte" to keep the row at the
    position too. A position may stop short of the ordering (a None value ends it), for
    positions written before the ordering grew a column."""
    known = []
    for name, value in zip(ordering, position, strict=True):
        if value is None:
            break
        known.append((name.lstrip("-"), value))
    strict = {"gte": "gt", "lte": "lt"}.get(lookup, lookup)
    beyond = Q()
    for place, (column, value) in enumerate(known):
        last = place == len(known) - 1
        equal = dict(known[:place])
        beyond |= Q(**equal, **{f"{column}__{lookup if last else strict}": value})
    return beyond


# Arrival order, for Live: an event sent late is new to whoever watches the stream.
ARRIVAL_ORDERING = ("-received_at", "-event_id", "-application_id")
# A row's place in it: (received_at, event_id, application_id).
Arrival = tuple[datetime, uuid.UUID, int | None]


def event_arrivals(
    *,
    after: Arrival | None = None,
    since: datetime | None = None,
    up_to: Arrival | None = None,
    **filters: Any,
) -> QuerySet[Event]:
    """Events matching the filters of event_list, in the order they reached the API, newest
    first. `after` keeps those past an Arrival position, `up_to` those at or before one,
    and `since` those that arrived at or after an instant."""
    events = event_list(**filters)
    # Each plain bound on received_at says what its Q says of that column, in a form the
    # planner can start an index range scan from.
    if after is not None:
        events = events.filter(
            keyset_beyond(ARRIVAL_ORDERING, after, "gt"), received_at__gte=after[0]
        )
    if up_to is not None:
        events = events.filter(
            keyset_beyond(ARRIVAL_ORDERING, up_to, "lte"), received_at__lte=up_to[0]
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
