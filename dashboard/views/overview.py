"""The landing page: how much happened in a range, by category, against the period before."""

from django.http import HttpRequest, HttpResponse

from dashboard.charts import volume_figure
from dashboard.views.common import category_colours, dashboard_view, render_page
from events.overview import overview_numbers
from insights.forms import OverviewForm

# More categories than this are summed as "(others)" in the chart (never in the tables).
CHART_CATEGORIES = 9


@dashboard_view
def overview(request: HttpRequest) -> HttpResponse:
    form = OverviewForm(request.GET)
    time_range = form.time_range
    app_id = form.application_id
    compare = form.compares
    assert time_range.start is not None and time_range.end is not None
    start, end, previous_start = time_range.start, time_range.end, time_range.previous_start

    numbers = overview_numbers(
        start=start,
        end=end,
        previous_start=previous_start,
        granularity=time_range.granularity,
        application_id=app_id,
        now=time_range.now,
    )
    current, previous = numbers.current, numbers.previous

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
            "events": numbers.events,
            "sessions": numbers.sessions,
            "ratio": numbers.ratio,
            "refused": numbers.refused,
            "series": current,
            "previous_series": previous,
            "figure": figure,
            "top_categories": numbers.top_categories,
            "top_names": numbers.top_names,
            "total": numbers.events.current,
        },
        nav="overview",
    )
