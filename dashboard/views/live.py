"""Live: the events that arrived last, polled every couple of seconds by dashboard/static/
dashboard/live.js, which asks for rows that arrived after the newest it shows.

Arrival (`received_at`) rather than the event's own timestamp orders the stream, so an event
sent three hours late shows at the top like any other. An event is stored a little after
it arrives (the queue, the worker), and not always in arrival order across workers, so a
poll reaches LOOKBACK behind the newest arrival shown; the page skips the rows it has.
"""

import uuid
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.forms import LiveForm
from dashboard.views.common import application_names, category_colours, dashboard_view, render_page
from events.models import Event
from events.paging import InvalidCursor, decode_cursor, encode_cursor
from events.selectors import event_arrivals

FIRST_ROWS = 50
# At most this many new rows per poll: a flood shows its newest rows and says how many
# more arrived, instead of making the browser draw thousands.
POLL_ROWS = 200
POLL_SECONDS = 2
# Workers store what they take within a second or so, so a few seconds cover the rows
# that one worker stores after another has stored later arrivals.
LOOKBACK = timedelta(seconds=5)


def live_filters(form: LiveForm) -> dict[str, Any]:
    app = form.cleaned_data.get("app")
    return {**form.event_filters(), "application_id": app.pk if app else None}


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    form = LiveForm(request.GET)
    context: dict[str, Any] = {"form": form, "poll_seconds": POLL_SECONDS, "arrival": True}
    if form.is_valid():
        rows = list(event_arrivals(**live_filters(form))[:FIRST_ROWS])
        context.update(
            rows=rows,
            newest=_cursor(rows),
            applications=application_names(),
            query=request.GET.urlencode(),
        )
    return render_page(request, "dashboard/live.html", context, nav="live")


@dashboard_view
def live_rows(request: HttpRequest) -> HttpResponse:
    """Rows that arrived after `after` (a cursor the page got from this endpoint or the
    page), and those LOOKBACK before it, as table rows; the newest arrival comes back in
    the X-Eye-Newest header."""
    form = LiveForm(request.GET)
    if not form.is_valid():
        return HttpResponse("invalid filter", status=400, content_type="text/plain")
    filters = live_filters(form)
    after = request.GET.get("after") or ""
    position = None
    if after:
        try:
            received_at, event_id, _ = decode_cursor(after)
        except InvalidCursor:
            return HttpResponse("invalid cursor", status=400, content_type="text/plain")
        position = (received_at, event_id)
        filters["arrived_since"] = (received_at - LOOKBACK, uuid.UUID(int=0))
    rows = list(event_arrivals(**filters)[: POLL_ROWS + 1])
    # A row left out matters only when it is new to the page, not one it already shows.
    overflow = rows[POLL_ROWS] if len(rows) > POLL_ROWS else None
    more = overflow is not None and (position is None or _arrival(overflow) > position)
    rows = rows[:POLL_ROWS]
    moved_on = rows and (position is None or _arrival(rows[0]) > position)
    response = render(
        request,
        "dashboard/live_rows.html",
        {
            "rows": rows,
            "more": more,
            "applications": application_names(),
            "colours": category_colours(),
            "query": request.GET.urlencode(),
            "arrival": True,
        },
    )
    response["X-Eye-Newest"] = _cursor(rows) if moved_on else after
    response["Cache-Control"] = "no-store"
    return response


def _arrival(event: Event) -> tuple:
    return (event.received_at, event.event_id)


def _cursor(rows: list) -> str:
    if not rows:
        return ""
    # The position in arrival order of the newest row; opaque to the page.
    return encode_cursor(timestamp=rows[0].received_at, event_id=rows[0].event_id, backwards=True)
