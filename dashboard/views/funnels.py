"""Funnels: steps picked from the kinds stored, sessions per step with the drop-off between
them, conversion per day, and the sessions that stopped at a step."""

from typing import Any

from django.http import HttpRequest, HttpResponse

from dashboard.charts import bar_figure, colour_map, volume_figure
from dashboard.views.common import dashboard_view, render_page, url_number
from events.funnels import Funnel
from events.rollups import Granularity, Series
from insights.definitions import FunnelDefinition, InvalidDefinition, funnel_definition, funnel_form
from insights.evaluation import funnel_of, funnel_with_dropoff_of

CONVERTED, DROPPED = "converted", "did not convert"


def funnel_bars(funnel: Funnel) -> dict:
    labels = [f"{i}. {step.name}" for i, step in enumerate(funnel.steps, start=1)]
    return bar_figure(
        labels=labels, values=[step.sessions for step in funnel.steps], colour="#3b6fb6"
    )


def funnel_trend_figure(funnel: Funnel, definition: FunnelDefinition) -> dict:
    """Sessions that entered each day, split into those that converted and the rest."""
    time_range = definition.time_range
    assert time_range.start is not None and time_range.end is not None
    buckets = Granularity.DAY.buckets(start=time_range.start, end=time_range.end)
    position = {bucket: i for i, bucket in enumerate(buckets)}
    converted, dropped = [0] * len(buckets), [0] * len(buckets)
    for day in funnel.trend:
        if day.day in position:
            converted[position[day.day]] = day.converted
            dropped[position[day.day]] = day.started - day.converted
    series = Series(buckets=buckets, values={CONVERTED: converted, DROPPED: dropped})
    return volume_figure(
        series=series,
        granularity=Granularity.DAY,
        colours=colour_map(series.values),
        incomplete=Granularity.DAY.floor(time_range.now) if time_range.incomplete_bucket else None,
    )


@dashboard_view
def funnels(request: HttpRequest) -> HttpResponse:
    form = funnel_form(query=request.GET)
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    try:
        definition = funnel_definition(form=form)
    except InvalidDefinition:
        return render_page(request, "dashboard/funnels.html", context, nav="funnels")
    dropoff_step = url_number(request.GET.get("dropoff", ""))
    if dropoff_step is not None and dropoff_step < len(definition.steps):
        funnel, context["dropped"] = funnel_with_dropoff_of(definition, step=dropoff_step)
        context["dropoff_step"] = dropoff_step
    else:
        funnel = funnel_of(definition)
    dropoffs = funnel.dropoffs()
    rows = [
        {
            "number": i,
            "step": step,
            "where": definition.steps[i - 1],
            "dropoff": dropoffs[i - 1] if i <= len(dropoffs) else None,
        }
        for i, step in enumerate(funnel.steps, start=1)
    ]
    context.update(
        funnel=funnel,
        rows=rows,
        figure=funnel_bars(funnel),
        trend_figure=funnel_trend_figure(funnel, definition),
        query=request.GET.urlencode(),
    )
    return render_page(request, "dashboard/funnels.html", context, nav="funnels")
