"""Funnels: steps picked from the kinds stored, sessions per step with the drop-off between
them, conversion per day, and the sessions that stopped at a step."""

from typing import Any

from django.http import HttpRequest, HttpResponse

from dashboard.charts import bar_figure, colour_map, volume_figure
from dashboard.insight_forms import FunnelForm
from dashboard.views.common import category_names, dashboard_view, render_page
from events.funnels import Funnel, funnel_compute, funnel_dropoff_list
from events.rollups import Granularity, Series

CONVERTED, DROPPED = "converted", "did not convert"


def funnel_of(form: FunnelForm) -> Funnel:
    time_range = form.time_range
    assert time_range.start is not None and time_range.end is not None
    return funnel_compute(
        steps=form.steps,
        start=time_range.start,
        end=time_range.end,
        window=form.window_delta,
        application_id=form.application_id,
    )


def funnel_bars(funnel: Funnel) -> dict:
    labels = [f"{i}. {step.name}" for i, step in enumerate(funnel.steps, start=1)]
    return bar_figure(
        labels=labels, values=[step.sessions for step in funnel.steps], colour="#3b6fb6"
    )


def funnel_trend_figure(funnel: Funnel, form: FunnelForm) -> dict:
    """Sessions that entered each day, split into those that converted and the rest."""
    time_range = form.time_range
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
    form = FunnelForm(request.GET, kinds=category_names())
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    if not form.is_valid() or not form.steps:
        return render_page(request, "dashboard/funnels.html", context, nav="funnels")
    funnel = funnel_of(form)
    dropoffs = funnel.dropoffs()
    rows = [
        {
            "number": i,
            "step": step,
            "where": form.steps[i - 1],
            "dropoff": dropoffs[i - 1] if i <= len(dropoffs) else None,
        }
        for i, step in enumerate(funnel.steps, start=1)
    ]
    context.update(
        funnel=funnel,
        rows=rows,
        figure=funnel_bars(funnel),
        trend_figure=funnel_trend_figure(funnel, form),
        query=request.GET.urlencode(),
    )
    stopped = request.GET.get("dropoff", "")
    if stopped.isdigit() and 1 <= int(stopped) < len(form.steps):
        time_range = form.time_range
        assert time_range.start is not None and time_range.end is not None
        context["dropoff_step"] = int(stopped)
        context["dropped"] = funnel_dropoff_list(
            steps=form.steps,
            start=time_range.start,
            end=time_range.end,
            window=form.window_delta,
            application_id=form.application_id,
            step=int(stopped),
        )
    return render_page(request, "dashboard/funnels.html", context, nav="funnels")
