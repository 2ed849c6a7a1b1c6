"""Saved insights and dashboards: the list of dashboards, one dashboard as a grid of cards,
and the POSTs that save, rename and delete them (owner and staff only)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.insight_forms import InsightSaveForm, NamedForm
from dashboard.views.cards import insight_card
from dashboard.views.common import dashboard_view, render_page
from events.insight_sql import DASHBOARD_SLOTS
from insights.kept import insights_evaluate_kept
from insights.models import Dashboard, Insight
from insights.ranges import PRESET_CHOICES
from insights.selectors import dashboard_insight_list, dashboard_list
from insights.services import (
    DashboardFull,
    dashboard_create,
    dashboard_delete,
    dashboard_update,
    dashboard_viewed,
    insight_can_edit,
    insight_create,
    insight_delete,
    insight_update,
)

# Presets a dashboard may impose on all its cards ("custom" needs bounds of its own).
RANGE_CHOICES = [(key, label) for key, label in PRESET_CHOICES if key != "custom"]


def write_view(view: Any) -> Any:
    return login_required(require_POST(view))


@dashboard_view
def dashboards(request: HttpRequest) -> HttpResponse:
    context = {"dashboards": dashboard_list(), "form": None}
    return render_page(request, "dashboard/dashboards.html", context, nav="dashboards")


@write_view
def dashboard_new(request: HttpRequest) -> HttpResponse:
    form = NamedForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    dashboard = dashboard_create(owner=request.user, **form.cleaned_data)
    return redirect("dashboard:dashboard", dashboard_id=dashboard.pk)


@dashboard_view
def dashboard_detail(request: HttpRequest, dashboard_id: int) -> HttpResponse:
    dashboard = get_object_or_404(Dashboard.objects.select_related("owner"), pk=dashboard_id)
    range_override = request.GET.get("range") or None
    range_params = {"range": range_override} if range_override else None
    if range_override == "custom":
        # Bounds of its own (a digest's link gives them); each card's form checks them.
        range_params = {
            "range": "custom",
            "start": request.GET.get("start", ""),
            "end": request.GET.get("end", ""),
        }
    elif range_override not in {None, *(key for key, _ in RANGE_CHOICES)}:
        range_override = range_params = None
    now = timezone.now()
    if range_params is None:
        # The worker keeps these cards fresh for a while (insights.kept).
        dashboard_viewed(dashboard=dashboard, now=now)
    evaluations = insights_evaluate_kept(
        insights=list(dashboard_insight_list(dashboard=dashboard)),
        range_params=range_params,
        stale_before=now if request.GET.get("refresh") == "1" else None,
        slots=DASHBOARD_SLOTS,
    )
    refresh = request.GET.copy()
    refresh["refresh"] = "1"
    computed = [e.computed_at for e in evaluations if e.computed_at is not None]
    context = {
        "dashboard": dashboard,
        "cards": [insight_card(evaluation=evaluation) for evaluation in evaluations],
        # The oldest card's moment: every number on the page is at least that recent.
        "computed_at": min(computed, default=None),
        "refresh_query": refresh.urlencode(),
        "range_override": range_override,
        "range_choices": RANGE_CHOICES,
        "can_edit": insight_can_edit(user=request.user, owner_id=dashboard.owner_id),
        # An insight's own owner may change it, not the owner of the dashboard it is on
        # (staff can put theirs on anyone's).
        "editable_insights": {
            evaluation.insight.pk
            for evaluation in evaluations
            if insight_can_edit(user=request.user, owner_id=evaluation.insight.owner_id)
        },
        "form": None,
    }
    return render_page(request, "dashboard/insights_dashboard.html", context, nav="dashboards")


@write_view
def dashboard_edit(request: HttpRequest, dashboard_id: int) -> HttpResponse:
    dashboard = get_object_or_404(Dashboard, pk=dashboard_id)
    form = NamedForm(request.POST)
    if not insight_can_edit(user=request.user, owner_id=dashboard.owner_id):
        raise PermissionDenied
    if not form.is_valid():
        return _invalid(form)
    dashboard_update(dashboard=dashboard, user=request.user, **form.cleaned_data)
    return redirect("dashboard:dashboard", dashboard_id=dashboard.pk)


@write_view
def dashboard_remove(request: HttpRequest, dashboard_id: int) -> HttpResponse:
    dashboard = get_object_or_404(Dashboard, pk=dashboard_id)
    dashboard_delete(dashboard=dashboard, user=request.user)
    return redirect("dashboard:dashboards")


@write_view
def insight_save(request: HttpRequest) -> HttpResponse:
    form = InsightSaveForm(request.POST)
    if not form.is_valid():
        return _invalid(form)
    cleaned = form.cleaned_data
    # The form names one or the other.
    if cleaned["dashboard"] is not None:
        dashboard = get_object_or_404(Dashboard, pk=cleaned["dashboard"])
    else:
        dashboard = dashboard_create(owner=request.user, name=cleaned["new_dashboard"])
    try:
        insight_create(
            owner=request.user,
            kind=cleaned["kind"],
            name=cleaned["name"],
            description=cleaned["description"],
            query=cleaned["query"],
            dashboard=dashboard,
        )
    except DashboardFull as exc:
        form.add_error("dashboard", str(exc))
        return _invalid(form)
    return redirect("dashboard:dashboard", dashboard_id=dashboard.pk)


@write_view
def insight_edit(request: HttpRequest, insight_id: int) -> HttpResponse:
    insight = get_object_or_404(Insight, pk=insight_id)
    form = NamedForm(request.POST)
    if not insight_can_edit(user=request.user, owner_id=insight.owner_id):
        raise PermissionDenied
    if not form.is_valid():
        return _invalid(form)
    insight_update(insight=insight, user=request.user, **form.cleaned_data)
    return _back(insight)


@write_view
def insight_remove(request: HttpRequest, insight_id: int) -> HttpResponse:
    insight = get_object_or_404(Insight, pk=insight_id)
    insight_delete(insight=insight, user=request.user)
    return _back(insight)


def _back(insight: Insight) -> HttpResponse:
    if insight.dashboard_id is not None:
        return redirect("dashboard:dashboard", dashboard_id=insight.dashboard_id)
    return redirect("dashboard:dashboards")


def _invalid(form: Any) -> HttpResponse:
    problems = "; ".join(f"{field}: {' '.join(m)}" for field, m in form.errors.items())
    return HttpResponse(
        f"Not saved: {problems}\n", status=400, content_type="text/plain; charset=utf-8"
    )
