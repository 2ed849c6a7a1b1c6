"""A saved insight drawn as a card of a dashboard: the page it came from, computed afresh
from its query by that page's own form and selectors."""

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.urls import reverse

from dashboard.charts import volume_figure
from dashboard.forms import CategoryForm, ExploreForm, NameForm, OverviewForm
from dashboard.insight_forms import FunnelForm
from dashboard.views.breakdowns import BY_PARAMETER, breakdown_figure
from dashboard.views.common import category_colours, category_names
from dashboard.views.explore import explore_filters
from dashboard.views.funnels import funnel_bars, funnel_of
from events.breakdowns import breakdown_series
from events.rollups import event_counts_series
from events.stats import event_count
from insights.models import Insight

PAGES = {
    Insight.Kind.OVERVIEW: "dashboard:overview",
    Insight.Kind.EXPLORE: "dashboard:explore",
    Insight.Kind.FUNNEL: "dashboard:funnels",
}


@dataclass
class Card:
    insight: Insight
    url: str
    figure: dict | None = None
    number: int | None = None
    number_label: str = ""
    problem: str = ""


def _query(insight: Insight, range_params: dict[str, str] | None) -> QueryDict:
    query = QueryDict(insight.query, mutable=True)
    if range_params:
        # The dashboard's range replaces the card's own, custom bounds included.
        for param in ("range", "start", "end"):
            query.pop(param, None)
        query.update(range_params)
    return query


def insight_card(*, insight: Insight, range_params: dict[str, str] | None = None) -> Card:
    """`range_params` ({"range": "7d"}, or "custom" with its "start" and "end") replaces
    the range saved with the insight."""
    query = _query(insight, range_params)
    kind = insight.kind
    if kind == Insight.Kind.BREAKDOWN:
        page = "dashboard:name" if query.get("name") else "dashboard:category"
    else:
        page = PAGES[Insight.Kind(kind)]
    card = Card(insight=insight, url=f"{reverse(page)}?{query.urlencode()}")
    drawers = {
        Insight.Kind.OVERVIEW: _overview,
        Insight.Kind.EXPLORE: _explore,
        Insight.Kind.FUNNEL: _funnel,
        Insight.Kind.BREAKDOWN: _breakdown,
    }
    drawers[Insight.Kind(kind)](card, query)
    return card


def _problem(card: Card, form: Any) -> bool:
    if form.is_valid():
        return False
    card.problem = "This insight's settings are no longer valid; open it to fix them."
    return True


def _overview(card: Card, query: QueryDict) -> None:
    form = OverviewForm(query)
    if _problem(card, form):
        return
    time_range = form.time_range
    assert time_range.start is not None and time_range.end is not None
    series = event_counts_series(
        start=time_range.start,
        end=time_range.end,
        granularity=time_range.granularity,
        group_by="category",
        application_id=form.application_id,
    )
    card.number, card.number_label = series.total(), "events"

    card.figure = volume_figure(
        series=series,
        granularity=time_range.granularity,
        colours=category_colours(),
        incomplete=time_range.incomplete_bucket,
    )


def _explore(card: Card, query: QueryDict) -> None:
    form = ExploreForm(query)
    if _problem(card, form):
        return
    count = event_count(**explore_filters(form))
    card.number, card.number_label = count.value, "events" if count.exact else "events or more"


def _funnel(card: Card, query: QueryDict) -> None:
    form = FunnelForm(query, kinds=category_names())
    if _problem(card, form) or not form.steps:
        card.problem = card.problem or "This funnel has no steps."
        return
    funnel = funnel_of(form)
    card.figure = funnel_bars(funnel)
    card.number = funnel.steps[0].sessions
    last = funnel.steps[-1]
    card.number_label = f"sessions entered, {last.conversion:.0%} converted"


def _breakdown(card: Card, query: QueryDict) -> None:
    form: Any = NameForm(query) if query.get("name") else CategoryForm(query)
    key = query.get(BY_PARAMETER, "").strip()
    if _problem(card, form):
        return
    time_range = form.time_range
    assert time_range.start is not None and time_range.end is not None
    breakdown = breakdown_series(
        key=key or None,
        start=time_range.start,
        end_exclusive=time_range.end,
        granularity=time_range.granularity,
        application_id=form.application_id,
        category=form.cleaned_data.get("category") or None,
        name=form.cleaned_data.get("name") or None,
    )
    card.number, card.number_label = breakdown.total, "events"
    card.figure = breakdown_figure(breakdown, incomplete=time_range.incomplete_bucket)
