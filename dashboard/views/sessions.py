"""Sessions: a list of recent ones, and one session told as a story, step by step."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse

from dashboard.forms import SessionsForm
from dashboard.views.common import application_names, dashboard_view, render_page
from events.insight_sql import DASHBOARD_SLOTS
from events.models import Event
from events.rollups import Granularity
from events.selectors import event_list
from events.stats import event_count, session_list_recent

# A session shown whole; a runaway one (a bot, a loop) is cut here with a link to Explore.
SESSION_STEPS = 1_000
SESSIONS_PER_PAGE = 50


@dataclass(frozen=True)
class Step:
    event: Event
    gap: timedelta | None  # since the step before
    elapsed: timedelta  # since the session's first event


@dataclass(frozen=True)
class PathPart:
    category: str
    name: str
    times: int


def session_path(events: list[Event]) -> list[PathPart]:
    """category / name in order, repeats folded (pageview, 3 times), for the summary line."""
    path: list[PathPart] = []
    for event in events:
        if path and (path[-1].category, path[-1].name) == (event.category, event.name):
            path[-1] = PathPart(event.category, event.name, path[-1].times + 1)
        else:
            path.append(PathPart(event.category, event.name, 1))
    return path


@dashboard_view
def session_detail(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    # The selector's order reversed: oldest first, ties broken by event_id as everywhere.
    events = list(event_list(session_id=session_id).reverse()[: SESSION_STEPS + 1])
    context: dict[str, Any] = {"session_id": session_id}
    if not events:
        return render_page(request, "dashboard/session.html", context, nav="sessions", status=404)
    truncated = len(events) > SESSION_STEPS
    events = events[:SESSION_STEPS]
    newest = event_list(session_id=session_id).first() if truncated else events[-1]
    assert newest is not None
    first = events[0].timestamp
    steps, before = [], None
    for event in events:
        gap = event.timestamp - before.timestamp if before else None
        steps.append(Step(event, gap, event.timestamp - first))
        before = event
    applications = application_names()
    context.update(
        steps=steps,
        truncated=truncated,
        count=event_count(session_id=session_id) if truncated else None,
        shown=len(events),
        first=first,
        last=newest.timestamp,
        duration=newest.timestamp - first,
        apps=sorted({applications.get(e.application_id, "?") for e in events}),
        applications=applications,
        path=session_path(events),
    )
    return render_page(request, "dashboard/session.html", context, nav="sessions")


@dashboard_view
def session_list(request: HttpRequest) -> HttpResponse:
    form = SessionsForm(request.GET)
    time_range = form.time_range
    assert time_range.start is not None and time_range.end is not None
    # Session activity is kept by the hour, so the list widens the range to whole hours.
    start = Granularity.HOUR.floor(time_range.start)
    end = Granularity.HOUR.ceil(time_range.end)
    cleaned = form.cleaned_data if form.is_valid() else {}
    page = cleaned.get("page") or 1
    order = cleaned.get("order") or "recent"
    sessions = session_list_recent(
        start=start,
        end=end,
        application_id=form.application_id,
        order=order,
        limit=SESSIONS_PER_PAGE + 1,
        offset=(page - 1) * SESSIONS_PER_PAGE,
        slots=DASHBOARD_SLOTS,
    )
    return render_page(
        request,
        "dashboard/sessions.html",
        {
            "form": form,
            "time_range": time_range,
            "start": start,
            "end": end,
            "widened": (start, end) != (time_range.start, time_range.end),
            "sessions": sessions[:SESSIONS_PER_PAGE],
            "page": page,
            "newer_page": page - 1 if page > 1 else None,
            "older_page": page + 1 if len(sessions) > SESSIONS_PER_PAGE else None,
            "applications": application_names(),
        },
        nav="sessions",
    )
