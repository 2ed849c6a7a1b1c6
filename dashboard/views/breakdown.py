"""A category's names over time, and a name's volume with the top values of a data key."""

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse

from dashboard.charts import area_figure, bar_figure, colour_of, value_labels, volume_figure
from dashboard.views.breakdowns import breakdown_context
from dashboard.views.common import category_colours, dashboard_view, name_colours, render_page
from events.rollups import event_counts_series, event_counts_top
from events.stats import data_key_list, data_value_counts
from insights.forms import CategoryForm, NameForm

# Names beyond this are summed as "(others)" in the stacked chart; the table lists more.
CHART_NAMES = 8
TABLE_NAMES = 50
TOP_VALUES = 20
# The data keys most worth breaking a name down by, when the URL names none.
PREFERRED_KEYS = ("path", "element", "form", "product", "plan", "field", "country", "browser")


@dashboard_view
def category_detail(request: HttpRequest) -> HttpResponse:
    form = CategoryForm(request.GET)
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    if not form.is_valid():
        return render_page(request, "dashboard/category.html", context, nav="overview")
    category = form.cleaned_data["category"]
    time_range, app_id = form.time_range, form.application_id
    assert time_range.start is not None and time_range.end is not None
    series = event_counts_series(
        start=time_range.start,
        end=time_range.end,
        granularity=time_range.granularity,
        group_by="name",
        application_id=app_id,
        category=category,
    )
    names = event_counts_top(
        start=time_range.start,
        end=time_range.end,
        previous_start=time_range.previous_start,
        by="name",
        granularity=time_range.granularity,
        application_id=app_id,
        category=category,
        limit=TABLE_NAMES,
    )
    colours = name_colours(category=category, names=[*series.values, *(r.name for r in names)])
    context.update(
        category=category,
        reset_url="?" + urlencode({"category": category}),
        series=series,
        names=names,
        total=series.total(),
        name_colours=colours,
        category_colour=colour_of(category, category_colours()),
        figure=area_figure(
            series=series.top(CHART_NAMES),
            granularity=time_range.granularity,
            colours=colours,
        ),
    )
    context.update(
        breakdown_context(
            request=request,
            time_range=time_range,
            filters={"application_id": app_id, "category": category},
        )
    )
    return render_page(request, "dashboard/category.html", context, nav="overview")


@dashboard_view
def name_detail(request: HttpRequest) -> HttpResponse:
    form = NameForm(request.GET)
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    if not form.is_valid():
        return render_page(request, "dashboard/name.html", context, nav="overview")
    name = form.cleaned_data["name"]
    category = form.cleaned_data.get("category") or None
    time_range, app_id = form.time_range, form.application_id
    assert time_range.start is not None and time_range.end is not None
    where = {"application_id": app_id, "category": category, "name": name}
    series = event_counts_series(
        start=time_range.start,
        end=time_range.end,
        granularity=time_range.granularity,
        group_by="category",
        **where,
    )
    previous = event_counts_series(
        start=time_range.previous_start,
        end=time_range.start,
        granularity=time_range.granularity,
        group_by="category",
        **where,
    )
    keys = data_key_list(start=time_range.start, end=time_range.end, **where)
    key = form.cleaned_data.get("key") or next(
        (k for k in PREFERRED_KEYS if k in keys), keys[0] if keys else ""
    )
    colours = category_colours()
    values = (
        data_value_counts(
            key=key, start=time_range.start, end=time_range.end, limit=TOP_VALUES, **where
        )
        if key
        else None
    )
    # The values are drawn in the colour of the name's category, as its volume is; a name
    # shared by several categories has no one colour of its own: it takes the first by name.
    colour = colour_of(category or next(iter(series.values), name), colours)
    context.update(
        name=name,
        category=category,
        reset_url="?" + urlencode({k: v for k, v in (("category", category), ("name", name)) if v}),
        key=key,
        keys=keys,
        total=series.total(),
        previous_total=previous.total(),
        values=values,
        figure=volume_figure(
            series=series,
            granularity=time_range.granularity,
            colours=colours,
            incomplete=time_range.incomplete_bucket,
            previous=previous.totals(),
        ),
        values_figure=(
            bar_figure(
                labels=value_labels(v for v, _ in values.rows),
                values=[count for _, count in values.rows],
                colour=colour,
            )
            if values and values.rows
            else None
        ),
    )
    context.update(breakdown_context(request=request, time_range=time_range, filters=where))
    return render_page(request, "dashboard/name.html", context, nav="overview")
