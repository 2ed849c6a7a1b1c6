"""Reads of saved insights and dashboards. Every signed-in user may read them all."""

from django.db.models import Count, QuerySet

from insights.models import Dashboard, Insight


def dashboard_list() -> QuerySet[Dashboard]:
    return Dashboard.objects.select_related("owner").annotate(insight_count=Count("insights"))


def dashboard_insight_list(*, dashboard: Dashboard) -> QuerySet[Insight]:
    return dashboard.insights.select_related("owner").order_by("position", "id")


def insight_list(*, owner_id: int | None = None) -> QuerySet[Insight]:
    insights = Insight.objects.select_related("owner", "dashboard")
    if owner_id is not None:
        insights = insights.filter(owner_id=owner_id)
    return insights.order_by("-updated_at", "-id")
