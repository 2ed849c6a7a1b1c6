"""Funnels: steps picked from the kinds stored, sessions per step with the drop-off between
them, conversion per day, and the sessions that stopped at a step."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

from dashboard.charts import bar_figure, conversion_figure
from dashboard.views.common import dashboard_view, render_page, url_number
from events.funnels import Funnel, FunnelDay
from events.insight_sql import DASHBOARD_SLOTS, insight_slot
from events.rollups import Granularity
from insights.definitions import FunnelDefinition, InvalidDefinition, funnel_definition, funnel_form
from insights.evaluation import funnel_before_of, funnel_of, funnel_with_dropoff_of


def funnel_bars(funnel: Funnel) -> dict:
    labels = [f"{i}. {step.name}" for i, step in enumerate(funnel.steps, start=1)]
    return bar_figure(
        labels=labels, values=[step.sessions for step in funnel.steps], colour="#3b6fb6"
    )


@dataclass(frozen=True)
class TrendRow:
    """A day of the conversion table, with the day it is compared with."""

    day: FunnelDay
    previous_day: datetime | None
    # None when not comparing, or when no session entered on the previous day.
    previous_conversion: float | None


def _converted_shares(funnel: Funnel) -> dict[datetime, float]:
    return {day.day: day.conversion for day in funnel.trend if day.started}


def funnel_trend(
    funnel: Funnel, definition: FunnelDefinition, before: Funnel | None
) -> tuple[dict, list[TrendRow]]:
    """Conversion per day as a line, and beside it, day for day, the previous period's
    (`before`, the same funnel over the period just before the range), dotted; with the
    table of the days any session entered on."""
    time_range = definition.time_range
    assert time_range.start is not None and time_range.end is not None
    buckets = Granularity.DAY.buckets(start=time_range.start, end=time_range.end)
    shares = _converted_shares(funnel)
    # The day the same distance into the previous period.
    earlier = {day: Granularity.DAY.floor(day - time_range.span) for day in buckets}
    earlier_shares = _converted_shares(before) if before is not None else {}
    figure = conversion_figure(
        buckets=buckets,
        conversion=[shares.get(day) for day in buckets],
        incomplete=Granularity.DAY.floor(time_range.now) if time_range.incomplete_bucket else None,
        previous=[earlier_shares.get(earlier[day]) for day in buckets] if before else None,
        previous_days=[earlier[day] for day in buckets],
    )
    rows = [
        TrendRow(
            day=day,
            previous_day=earlier.get(day.day) if before else None,
            previous_conversion=earlier_shares.get(earlier.get(day.day)) if before else None,
        )
        for day in funnel.trend
    ]
    return figure, rows


@dashboard_view
def funnels(request: HttpRequest) -> HttpResponse:
    form = funnel_form(query=request.GET)
    context: dict[str, Any] = {"form": form, "time_range": form.time_range}
    try:
        definition = funnel_definition(form=form)
    except InvalidDefinition:
        return render_page(request, "dashboard/funnels.html", context, nav="funnels")
    dropoff_step = url_number(request.GET.get("dropoff", ""))
    with insight_slot(DASHBOARD_SLOTS):
        if dropoff_step is not None and dropoff_step < len(definition.steps):
            funnel, context["dropped"] = funnel_with_dropoff_of(definition, step=dropoff_step)
            context["dropoff_step"] = dropoff_step
        else:
            funnel = funnel_of(definition)
        # The same walk again over the period before: the comparison doubles the work.
        before = funnel_before_of(definition) if form.compares else None
    trend_figure, trend_rows = funnel_trend(funnel, definition, before)
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
        trend_figure=trend_figure,
        trend_rows=trend_rows,
        compare=before is not None,
        query=request.GET.urlencode(),
    )
    return render_page(request, "dashboard/funnels.html", context, nav="funnels")
