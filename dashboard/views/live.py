"""Live: the newest events, polled every couple of seconds by dashboard/static/dashboard/
live.js, which asks only for rows newer than the newest it shows."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.forms import LiveForm
from dashboard.views.common import application_names, category_colours, dashboard_view, render_page
from events.paging import InvalidCursor, decode_cursor, encode_cursor
from events.selectors import event_list

FIRST_ROWS = 50
# At most this many new rows per poll: a flood shows its newest rows and says how many
# more arrived, instead of making the browser draw thousands.
POLL_ROWS = 200
POLL_SECONDS = 2


def live_filters(form: LiveForm) -> dict[str, Any]:
    app = form.cleaned_data.get("app")
    return {**form.event_filters(), "application_id": app.pk if app else None}


@dashboard_view
def live(request: HttpRequest) -> HttpResponse:
    form = LiveForm(request.GET)
    context: dict[str, Any] = {"form": form, "poll_seconds": POLL_SECONDS}
    if form.is_valid():
        rows = list(event_list(**live_filters(form))[:FIRST_ROWS])
        context.update(
            rows=rows,
            newest=_cursor(rows),
            applications=application_names(),
            query=request.GET.urlencode(),
        )
    return render_page(request, "dashboard/live.html", context, nav="live")


@dashboard_view
def live_rows(request: HttpRequest) -> HttpResponse:
    """Rows newer than `after` (a cursor the page got from this endpoint or the page), as
    table rows; the newest position comes back in the X-Eye-Newest header."""
    form = LiveForm(request.GET)
    if not form.is_valid():
        return HttpResponse("invalid filter", status=400, content_type="text/plain")
    filters = live_filters(form)
    after = request.GET.get("after") or ""
    if after:
        try:
            timestamp, event_id, _ = decode_cursor(after)
        except InvalidCursor:
            return HttpResponse("invalid cursor", status=400, content_type="text/plain")
        filters["newer_than"] = (timestamp, event_id)
    rows = list(event_list(**filters)[: POLL_ROWS + 1])
    more = len(rows) > POLL_ROWS
    rows = rows[:POLL_ROWS]
    response = render(
        request,
        "dashboard/live_rows.html",
        {
            "rows": rows,
            "more": more,
            "applications": application_names(),
            "colours": category_colours(),
            "query": request.GET.urlencode(),
        },
    )
    response["X-Eye-Newest"] = _cursor(rows) or after
    response["Cache-Control"] = "no-store"
    return response


def _cursor(rows: list) -> str:
    if not rows:
        return ""
    return encode_cursor(timestamp=rows[0].timestamp, event_id=rows[0].event_id, backwards=True)
