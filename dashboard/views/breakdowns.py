"""The breakdown chart shown on the category and name pages and in Explore: the kind's
events per bucket for the 10 most frequent values of a data key picked in the URL (`by`),
the rest as "(others)", each value one click from Explore filtered by it."""

from typing import Any

from django.http import HttpRequest, QueryDict

from dashboard.charts import OTHER, colour_map, value_labels, volume_figure
from events.breakdowns import Breakdown, breakdown_series
from events.insight_sql import DASHBOARD_SLOTS
from events.rollups import Series
from events.stats import data_key_list
from events.tracked_keys import tracked_key_exists
from insights.forms import BreakdownKeyForm
from insights.ranges import TimeRange


def breakdown_figure(breakdown: Breakdown, *, incomplete: Any = None) -> dict:
    labels = value_labels((s.value for s in breakdown.series), taken=[OTHER])
    values = {label: s.counts for label, s in zip(labels, breakdown.series, strict=True)}
    if breakdown.other_total:
        values[OTHER] = breakdown.other
    series = Series(buckets=breakdown.buckets, values=values)
    return volume_figure(
        series=series,
        granularity=breakdown.granularity,
        colours=colour_map(values),
        incomplete=incomplete,
    )


def breakdown_context(
    *, request: HttpRequest, time_range: TimeRange, filters: dict[str, Any]
) -> dict[str, Any]:
    """`filters` are event_list's (without the range). Nothing is computed until a key is
    picked: a scan of raw events is only worth it when asked for."""
    if time_range.start is None or time_range.end is None:
        return {}
    keys = data_key_list(
        start=time_range.start,
        end=time_range.end,
        **{k: filters.get(k) for k in ("application_id", "category", "name")},
    )
    by = BreakdownKeyForm(request.GET)
    key = by.key
    context: dict[str, Any] = {
        "breakdown_keys": keys,
        "breakdown_key": key or "",
        "breakdown_errors": by.errors.get("by", []),
    }
    if key is None:
        return context
    breakdown = breakdown_series(
        key=key,
        start=time_range.start,
        end_exclusive=time_range.end,
        granularity=time_range.granularity,
        slots=DASHBOARD_SLOTS,
        **filters,
    )
    explore = QueryDict(mutable=True)
    for param in ("range", "start", "end", "app", "category", "name"):
        if request.GET.get(param):
            explore[param] = request.GET[param]
    rows = []
    for series in breakdown.series:
        link = explore.copy()
        # Explore filters by a top-level key; a dotted key's values are shown unlinked.
        if "." not in key:
            link["key"], link["value"] = key, series.value or ""
        rows.append({"series": series, "explore_query": link.urlencode() if "." not in key else ""})
    context.update(
        breakdown=breakdown,
        # Said under the chart: why it was fast, or slow, and what would make it fast.
        breakdown_key_tracked=breakdown.from_tracked_counts or tracked_key_exists(key=key),
        breakdown_rows=rows,
        breakdown_figure=breakdown_figure(breakdown, incomplete=time_range.incomplete_bucket),
    )
    return context
