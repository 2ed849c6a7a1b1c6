"""The landing page: how much happened in a range, by category, against the period before."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from dashboard.charts import volume_figure
from dashboard.forms import OverviewForm
from dashboard.views.common import category_colours, dashboard_view, render_page
from events.stats import (
    Granularity,
    TopRow,
    event_counts_series,
    event_counts_top,
    refusal_count,
    session_count,
)

# More categories than this are summed as "(others)" in the chart (never in the tables).
CHART_CATEGORIES = 9
TOP_ROWS = 10
SESSION_CACHE_FROM = timedelta(days=1)
SESSION_CACHE_OPEN = 60
SESSION_CACHE_CLOSED = 3600


@dataclass(frozen=True)
class Stat:
    """A number on a card, with the same number for the previous period."""

    current: float | int | None
    previous: float | int | None


def session_count_cached(
    *, start: datetime, end: datetime, application_id: int | None, now: datetime
) -> int:
    """Unique sessions over more than a day, kept for a while.

    Every other number on the page is a read of a few thousand rollup rows; unique
    sessions over a month means deduplicating some 400,000 ids (0.3 to 0.5 s here), and
    teams re-open the same ranges all day. So a count is kept for a minute while its
    period still takes events, and for an hour once the period is over (only events sent
    late can change it then). A day or less is counted afresh: it is quick.
    """
    if end - start <= SESSION_CACHE_FROM:
        return session_count(start=start, end=end, application_id=application_id)
    key = f"dashboard:sessions:{start:%Y%m%d%H%M}:{end:%Y%m%d%H%M}:{application_id or 'all'}"
    count = cache.get(key)
    if count is None:
        count = session_count(start=start, end=end, application_id=application_id)
        closed = end <= Granularity.HOUR.floor(now)
        cache.set(key, count, SESSION_CACHE_CLOSED if closed else SESSION_CACHE_OPEN)
    return count


def per_session(events: int, sessions: int) -> float | None:
    return round(events / sessions, 1) if sessions else None


@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    form = OverviewForm(request.GET)
    time_range = form.time_range
    app_id = form.application_id
    compare = form.cleaned_data.get("compare", True) if form.is_valid() else True
    assert time_range.start is not None and time_range.end is not None
    start, end, previous_start = time_range.start, time_range.end, time_range.previous_start

    # One read of the rollup covers both periods: the chart, its dotted line, the totals
    # and the top categories all come from it.
    both = event_counts_series(
        start=previous_start,
        end=end,
        granularity=time_range.granularity,
        group_by="category",
        application_id=app_id,
    )
    current, previous = both.between(start, end), both.between(previous_start, start)
    events = Stat(current.total(), previous.total())
    sessions = Stat(
        session_count_cached(start=start, end=end, application_id=app_id, now=time_range.now),
        session_count_cached(
            start=previous_start, end=start, application_id=app_id, now=time_range.now
        ),
    )
    refused = Stat(
        refusal_count(start=start, end=end, application_id=app_id),
        refusal_count(start=previous_start, end=start, application_id=app_id),
    )
    ratio = Stat(
        per_session(events.current, sessions.current),
        per_session(events.previous, sessions.previous),
    )

    now_by_category, before_by_category = current.key_totals(), previous.key_totals()
    top_categories = sorted(
        (
            TopRow(category, None, now_by_category.get(category, 0), before)
            for category, before in before_by_category.items()
        ),
        key=lambda row: (-row.events, -row.previous, row.category),
    )[:TOP_ROWS]
    top_names = event_counts_top(
        start=start,
        end=end,
        previous_start=previous_start,
        by="name",
        granularity=time_range.granularity,
        application_id=app_id,
        limit=TOP_ROWS,
    )

    colours = category_colours()
    figure = volume_figure(
        series=current.top(CHART_CATEGORIES),
        granularity=time_range.granularity,
        colours=colours,
        incomplete=time_range.incomplete_bucket,
        previous=previous.totals() if compare else None,
    )
    return render_page(
        request,
        "dashboard/overview.html",
        {
            "form": form,
            "time_range": time_range,
            "compare": compare,
            "events": events,
            "sessions": sessions,
            "ratio": ratio,
            "refused": refused,
            "series": current,
            "previous_series": previous,
            "figure": figure,
            "top_categories": [row for row in top_categories if row.events or row.previous],
            "top_names": top_names,
            "total": events.current,
        },
        nav="overview",
    )
