"""A saved insight drawn as a card of a dashboard: its number as insights.evaluation
computes it, the chart its page would draw from the same result, and a link to that page."""

from dataclasses import dataclass
from typing import assert_never

from django.urls import reverse

from dashboard.charts import volume_figure
from dashboard.views.breakdowns import breakdown_figure
from dashboard.views.common import category_colours
from dashboard.views.funnels import funnel_bars
from events.breakdowns import Breakdown
from events.funnels import Funnel
from events.rollups import Series
from insights.evaluation import Evaluation
from insights.models import Insight

PAGES = {
    Insight.Kind.OVERVIEW: "dashboard:overview",
    Insight.Kind.EXPLORE: "dashboard:explore",
    Insight.Kind.FUNNEL: "dashboard:funnels",
}


@dataclass
class Card:
    """An evaluated insight as the dashboard shows it: with its page's link and its chart."""

    evaluation: Evaluation
    url: str
    figure: dict | None = None


def insight_card(*, evaluation: Evaluation) -> Card:
    query = evaluation.query
    kind = evaluation.insight.kind
    if kind == Insight.Kind.BREAKDOWN:
        page = "dashboard:name" if query.get("name") else "dashboard:category"
    else:
        page = PAGES[Insight.Kind(kind)]
    url = f"{reverse(page)}?{query.urlencode()}"
    return Card(evaluation=evaluation, url=url, figure=_figure(evaluation))


def _figure(evaluation: Evaluation) -> dict | None:
    if evaluation.definition is None:
        return None
    time_range = evaluation.definition.time_range
    match evaluation.result:
        case Series() as series:
            return volume_figure(
                series=series,
                granularity=time_range.granularity,
                colours=category_colours(),
                incomplete=time_range.incomplete_bucket,
            )
        case Funnel() as funnel:
            return funnel_bars(funnel)
        case Breakdown() as breakdown:
            return breakdown_figure(breakdown, incomplete=time_range.incomplete_bucket)
        case None:
            return None
        case _:
            assert_never(evaluation.result)
