"""The Save button every chart page carries, and how a rate reads."""

from typing import Any

from django import template

from dashboard.insight_forms import InsightSaveForm
from insights.selectors import dashboard_list

register = template.Library()


@register.inclusion_tag("includes/save_insight.html", takes_context=True)
def save_insight(context: dict[str, Any], kind: str) -> dict[str, Any]:
    """A form that saves this page, as its URL states it, onto a dashboard."""
    request = context["request"]
    query = request.GET.copy()
    for transient in ("cursor", "dropoff", "page"):
        query.pop(transient, None)
    form = InsightSaveForm(initial={"kind": kind, "query": query.urlencode()})
    return {"form": form, "dashboards": dashboard_list(), "csrf_token": context.get("csrf_token")}


@register.filter
def percent(rate: float | None) -> str:
    """0.613 → 61%; under one percent reads <1%, not a misleading 0%."""
    if rate is None:
        return "\u2013"
    value = 100 * rate
    if 0 < value < 1:
        return "<1%"
    return f"{value:.0f}%"
