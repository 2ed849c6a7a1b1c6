"""Live: the events that arrived last, polled every couple of seconds by dashboard/static/
dashboard/live.js, which asks for what arrived after the newest row it shows.

Arrival (`received_at`) rather than the event's own timestamp orders the stream, so an event
sent three hours late shows at the top like any other. An event is stored a little after
it arrives (the queue, the worker), and not always in arrival order across workers, so a
row can be stored after a later arrival has been shown. The page's position therefore
also counts the rows that arrived in the LOOKBACK before it; a poll that finds more there
sends that window again, and the page adds the rows it lacks. Each answer is read in one
snapshot, so the count and the rows it sends agree.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.forms import LiveForm
from dashboard.views.common import application_names, category_colours, dashboard_view, render_page
from events.models import Event
from events.paging import (
    cursor_application_id,
    cursor_event_id,
    cursor_fields,
    cursor_instant,
    cursor_token,
)
from events.selectors import Arrival, event_arrivals

FIRST_ROWS = 50
# At most this many new rows per poll: a flood shows its newest rows and says how many
# more arrived, instead of making the browser draw thousands.
POLL_ROWS = 200
POLL_SECONDS = 2
# Workers store what they take within a second or so, so a few seconds cover the rows
# that one worker stores after another has stored later arrivals.
LOOKBACK = timedelta(seconds=5)
# The count of a window stops here: a window holding more rows than a poll can send is
# past telling apart anyway, and counting it whole (a bulk load arrives in one instant)
# would cost every poll a scan.
WINDOW_CAP = 1_000
# The earliest position whose LOOKBACK window starts on the calendar. Positions are those
# of stored arrivals, never this early: an earlier one is forged, and its window would
# overflow before it reached the database.
EARLIEST_POSITION = datetime.min.replace(tzinfo=UTC) + LOOKBACK


class InvalidPosition(ValueError):
    pass


@dataclass(frozen=True)
class Position:
    """Where the page stands: its newest row in arrival order, and how many rows arrived
    in the LOOKBACK up to it when the page got that row."""

    received_at: datetime
    event_id: uuid.UUID
    # None in the positions written before the arrival order had the application in it.
    application_id: int | None
    window: int

    @property
    def key(self) -> Arrival:
        return (self.received_at, self.event_id, self.application_id)

    def encode(self) -> str:
        return cursor_token(
            [self.received_at.isoformat(), str(self.event_id), self.window, self.application_id]
        )

    @classmethod
    def decode(cls, token: str) -> "Position":
        try:
            received_at, event_id, window, *rest = cursor_fields(token)
            position = cls(
                cursor_instant(received_at),
                cursor_event_id(event_id),
                cursor_application_id(rest),
                int(window),
            )
        except (ValueError, TypeError):
            raise InvalidPosition(token) from None
        if position.received_at < EARLIEST_POSITION:
            raise InvalidPosition(token)
        return position


def live_filters(form: LiveForm) -> dict[str, Any]:
    app = form.cleaned_data.get("app")
    return {**form.event_filters(), "application_id": app.pk if app else None}


@contextmanager
def _one_snapshot() -> Iterator[None]:
    """Every read inside sees the same committed rows. Inside a transaction already (a
    test's), the reads share that one."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _window(filters: dict[str, Any], key: Arrival) -> Any:
    return event_arrivals(**filters, since=key[0] - LOOKBACK, up_to=key)


def _window_count(filters: dict[str, Any], key: Arrival) -> int:
    return _window(filters, key).values("pk")[:WINDOW_CAP].count()


def _position(filters: dict[str, Any], newest: Event) -> Position:
    key = (newest.received_at, newest.event_id, newest.application_id)
    return Position(*key, window=_window_count(filters, key))


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    form = LiveForm(request.GET)
    context: dict[str, Any] = {"form": form, "poll_seconds": POLL_SECONDS, "arrival": True}
    if form.is_valid():
        filters = live_filters(form)
        with _one_snapshot():
            rows = list(event_arrivals(**filters)[:FIRST_ROWS])
            newest = _position(filters, rows[0]).encode() if rows else ""
        context.update(
            rows=rows,
            newest=newest,
            applications=application_names(),
            query=request.GET.urlencode(),
        )
    return render_page(request, "dashboard/live.html", context, nav="live")


@dashboard_view
def live_rows(request: HttpRequest) -> HttpResponse:
    """Rows that arrived after `after` (a position the page got from this endpoint or the
    page), then, when rows were stored late just behind it, those of its LOOKBACK window;
    the new position comes back in the X-Eye-Newest header."""
    form = LiveForm(request.GET)
    if not form.is_valid():
        return HttpResponse("invalid filter", status=400, content_type="text/plain")
    filters = live_filters(form)
    after = request.GET.get("after") or ""
    position = None
    if after:
        try:
            position = Position.decode(after)
        except InvalidPosition:
            return HttpResponse("invalid cursor", status=400, content_type="text/plain")
    with _one_snapshot():
        fresh = list(
            event_arrivals(**filters, after=position.key if position else None)[: POLL_ROWS + 1]
        )
        more = len(fresh) > POLL_ROWS
        fresh = fresh[:POLL_ROWS]
        late: list[Event] = []
        newest = ""
        if position is not None:
            window = _window_count(filters, position.key)
            if window != position.window:
                late = list(_window(filters, position.key)[:POLL_ROWS])
            # The page will hold every row of its window that this snapshot sees.
            newest = Position(*position.key, window=window).encode()
        if fresh:
            newest = _position(filters, fresh[0]).encode()
    response = render(
        request,
        "dashboard/live_rows.html",
        {
            "rows": fresh + late,
            "more": more,
            "applications": application_names(),
            "colours": category_colours(),
            "query": request.GET.urlencode(),
            "arrival": True,
        },
    )
    response["X-Eye-Newest"] = newest
    response["Cache-Control"] = "no-store"
    return response
