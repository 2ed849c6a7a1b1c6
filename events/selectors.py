"""Reads of the event store. One selector serves the API, the dashboard and exports, so
a filter means the same thing everywhere."""

import uuid
from datetime import datetime

from django.db.models import QuerySet

from events.models import Event

# Newest first, ties on timestamp broken by event_id: a total order, which keyset paging
# needs so that it never repeats or skips an event. Every index on the table ends in
# these two columns for the same reason.
EVENT_ORDERING = ("-timestamp", "-event_id")


def event_list(
    *,
    application_id: int | None = None,
    session_id: uuid.UUID | str | None = None,
    category: str | None = None,
    name: str | None = None,
    start: datetime | None = None,
    end_inclusive: datetime | None = None,
    end_exclusive: datetime | None = None,
) -> QuerySet[Event]:
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
    return events.order_by(*EVENT_ORDERING)
