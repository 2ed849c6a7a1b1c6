"""Explore: every stored event behind a filter, newest first, a page at a time; and the
same filter exported whole, as CSV or NDJSON."""

import csv
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from datetime import datetime
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.text import slugify

from dashboard.exports import (
    ExportEstimate,
    HeldWhileStreaming,
    export_estimate,
    export_progress_get,
    export_progress_track,
    export_token_clean,
)
from dashboard.spreadsheet import csv_writer_neutralising
from dashboard.views.breakdowns import breakdown_context
from dashboard.views.common import application_names, dashboard_view, render_page
from events.insight_sql import EXPORT_SLOTS, insight_slot
from events.models import Event
from events.paging import InvalidCursor, keyset_page
from events.payloads import data_readable
from events.selectors import event_list
from events.stats import EventCount, event_count
from insights.definitions import category_names, explore_filters
from insights.forms import ExploreForm
from insights.ranges import utc_now

PAGE_SIZE = 50
# Past this many matches, a count the rollups cannot give reads "10,000+".
COUNT_CAP = 10_000
# Rows fetched per round trip of the export's server-side cursor: big enough to amortise
# the round trip, small enough that memory stays flat however long the export.
EXPORT_CHUNK = 2_000
CSV_COLUMNS = [
    "timestamp",
    "event_id",
    "session_id",
    "application",
    "category",
    "name",
    "data",
    "received_at",
]


@dashboard_view
def explore(request: HttpRequest) -> HttpResponse:
    form = ExploreForm(request.GET)
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    if not form.is_valid():
        return render_page(request, "dashboard/explore.html", context, nav="explore")
    filters = explore_filters(form)
    try:
        page = keyset_page(
            event_list(**filters), cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except InvalidCursor:
        context["cursor_error"] = "This page link is broken; showing the newest events."
        page = keyset_page(event_list(**filters), cursor=None, limit=PAGE_SIZE)
    count = event_count(cap=COUNT_CAP, **filters)
    applications = application_names()
    context.update(
        page=page,
        count=count,
        count_cap=COUNT_CAP,
        estimate=_estimate(page.rows, count, applications),
        case_hints=[] if page.rows else filter_case_hints(form.event_filters(), category_names()),
        applications=applications,
        filtered_by=form.event_filters(),
        query=request.GET.urlencode(),
    )
    unranged = {k: v for k, v in filters.items() if k not in ("start", "end_exclusive")}
    context.update(breakdown_context(request=request, time_range=form.time_range, filters=unranged))
    return render_page(request, "dashboard/explore.html", context, nav="explore")


def filter_case_hints(
    filters: dict[str, Any], pairs: list[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """(field, what was typed, a value that exists) for each category or name filter that
    matches nothing as typed but a stored value in another case: filters are exact, and
    "Pageview" finding nothing where "pageview" abounds needs saying."""
    known = {
        "category": {category for category, _ in pairs},
        "name": {name for category, name in pairs if category == filters["category"]}
        or {name for _, name in pairs},
    }
    hints = []
    for field in ("category", "name"):
        typed = filters[field]
        if typed is None or typed in known[field]:
            continue
        folded = typed.casefold()
        hints += [
            (field, typed, value) for value in sorted(known[field]) if value.casefold() == folded
        ]
    return hints


def _estimate(rows: list[Event], count: EventCount, applications: dict[int, str]) -> ExportEstimate:
    """What an export of the filter would weigh, from the page's rows written as the
    export writes them."""
    sample = [
        (e.timestamp, e.event_id, e.session_id, e.application_id, e.category, e.name, e.data,
         e.received_at)
        for e in rows
    ]  # fmt: skip
    try:
        return export_estimate(
            count=count,
            csv_sample=list(_csv_lines(sample, applications)),
            ndjson_sample=list(_ndjson_lines(sample, applications)),
        )
    except (TypeError, ValueError, RecursionError):
        # A stored value the serialiser cannot write (orjson's errors are TypeErrors) must
        # not take the page down with it: the page then shows the count without sizes.
        return export_estimate(count=count, csv_sample=[], ndjson_sample=[])


class Echo:
    """A file that hands back what is written to it, so csv.writer can feed a stream."""

    def write(self, value: str) -> str:
        return value


def _rows(form: ExploreForm) -> Iterator[tuple]:
    # .iterator() reads through a server-side cursor in chunks: a million rows never sit
    # in memory, here or in the database driver.
    rows = (
        event_list(**explore_filters(form))
        .values_list(
            "timestamp",
            "event_id",
            "session_id",
            "application_id",
            "category",
            "name",
            "data",
            "received_at",
        )
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    # A row stored before the limits on data existed must not end the export half-way.
    for *head, data, received_at in rows:
        yield (*head, data_readable(data), received_at)


def _csv_lines(rows: Iterable[tuple], applications: dict[int, str]) -> Iterator[str]:
    writer = csv_writer_neutralising(csv.writer(Echo()))
    yield writer.writerow(CSV_COLUMNS)
    for timestamp, event_id, session_id, app_id, category, name, data, received_at in rows:
        yield writer.writerow(
            [
                timestamp.isoformat(),
                event_id,
                session_id,
                applications.get(app_id, app_id),
                category,
                name,
                orjson.dumps(data).decode(),
                received_at.isoformat(),
            ]
        )


def _ndjson_lines(rows: Iterable[tuple], applications: dict[int, str]) -> Iterator[bytes]:
    for timestamp, event_id, session_id, app_id, category, name, data, received_at in rows:
        yield (
            orjson.dumps(
                {
                    "timestamp": timestamp,
                    "event_id": event_id,
                    "session_id": session_id,
                    "application": applications.get(app_id, app_id),
                    "category": category,
                    "name": name,
                    "data": data,
                    "received_at": received_at,
                },
                option=orjson.OPT_UTC_Z,
            )
            + b"\n"
        )


def _filename(form: ExploreForm, extension: str, now: datetime) -> str:
    parts = ["eye-events", form.time_range.preset]
    filters = form.event_filters()
    parts += [str(filters[k]) for k in ("category", "name") if filters[k]]
    if filters["session_id"]:
        parts.append(str(filters["session_id"])[:8])
    return f"{slugify('-'.join(parts))}-{now:%Y%m%d-%H%M%S}.{extension}"


@dashboard_view
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    form = ExploreForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in form.errors.items())
        return HttpResponse(
            f"The filter is not valid: {problems}\n", status=400, content_type="text/plain"
        )
    applications = application_names()
    count = event_count(cap=COUNT_CAP, **explore_filters(form))
    # Held until the download ends; InsightsBusy (a 503 that asks again) when all are.
    held = ExitStack()
    held.enter_context(insight_slot(EXPORT_SLOTS))
    rows = export_progress_track(
        _rows(form),
        token=export_token_clean(request.GET.get("progress")),
        total=count.value if count.exact else None,
    )
    if fmt == "csv":
        body: Iterator[Any] = _csv_lines(rows, applications)
        content_type = "text/csv; charset=utf-8"
    else:
        body = _ndjson_lines(rows, applications)
        content_type = "application/x-ndjson"
    response = StreamingHttpResponse(HeldWhileStreaming(body, held), content_type=content_type)
    filename = _filename(form, fmt, utc_now())
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    if count.exact:
        # Told before the first byte, for clients that show how far a download has got.
        response["X-Eye-Export-Rows"] = str(count.value)
    # Proxies must pass the stream on as it comes instead of gathering it.
    response["X-Accel-Buffering"] = "no"
    response["Cache-Control"] = "no-store"
    return response


@dashboard_view
def export_progress(request: HttpRequest) -> HttpResponse:
    """How far the export started with this progress token has got: {started, rows,
    total, done, stopped}; `started` is false while the export has not begun (or the token is
    unknown), which the page polling it reads as "not yet", not as a fault."""
    token = export_token_clean(request.GET.get("token"))
    progress = export_progress_get(token=token) if token else None
    if progress is None:
        answer = {"started": False, "rows": 0, "total": None, "done": False, "stopped": False}
    else:
        answer = {"started": True, **progress}
    response = JsonResponse(answer)
    response["Cache-Control"] = "no-store"
    return response
