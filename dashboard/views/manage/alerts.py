"""Admin → Alerts: the rules with their state, and what they sent.

A new webhook's signing secret is shown once, on the page the save redirects to (it
waits in the session for that one GET, as a new key's secret does)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from alerts.kinds import rule_describe
from alerts.models import AlertRule
from alerts.selectors import alert_rule_rows, notification_history, refusal_reason_suggestions
from alerts.services import alert_rule_mute, alert_rule_remove, alert_rule_save
from dashboard.alert_forms import AlertRuleForm
from dashboard.views.manage.common import READ_WRITE, WRITE, render_manage, staff_view
from insights.ranges import utc_now

SECRET_KEY = "dashboard:new-alert-secret"
SPARK_WIDTH, SPARK_HEIGHT = 120, 28


def sparkline_points(values: list[float]) -> str:
    """An SVG polyline's points, scaled into the sparkline's box (the highest value at
    the top, zero at the bottom)."""
    if not values:
        return ""
    top = max(values) or 1
    step = SPARK_WIDTH / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 1 - (value / top) * (SPARK_HEIGHT - 2):.1f}"
        for i, value in enumerate(values)
    )


def saved(request: HttpRequest, form: AlertRuleForm) -> AlertRule:
    result = alert_rule_save(
        rule=form.rule,
        values=form.cleaned_data,
        new_secret=form.cleaned_data.get("new_secret", False),
        actor=request.user,
    )
    if result.new_secret is not None:
        request.session[SECRET_KEY] = {"rule_id": result.rule.pk, "secret": result.new_secret}
    messages.success(request, f"Alert “{result.rule.name}” saved: {rule_describe(result.rule)}.")
    return result.rule


def secret_pop(request: HttpRequest) -> dict | None:
    return request.session.pop(SECRET_KEY, None)


def alerts_page(
    request: HttpRequest, template: str, context: dict, *, status: int | None = None
) -> HttpResponse:
    return render_manage(
        request,
        template,
        {
            **context,
            "reason_suggestions": refusal_reason_suggestions(),
            "spark_width": SPARK_WIDTH,
            "spark_height": SPARK_HEIGHT,
        },
        section="alerts",
        status=status,
    )


@staff_view(methods=READ_WRITE)
def alert_list(request: HttpRequest) -> HttpResponse:
    form = AlertRuleForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        saved(request, form)
        return redirect("dashboard:manage_alerts")
    rows = [(row, sparkline_points(row.sparkline)) for row in alert_rule_rows(now=utc_now())]
    return alerts_page(
        request,
        "dashboard/manage/alerts.html",
        {
            "form": form,
            "rows": rows,
            "history": notification_history(),
            "new_secret": secret_pop(request),
        },
    )


@staff_view(methods=READ_WRITE)
def alert_detail(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule.objects.select_related("application"), pk=rule_id)
    form = AlertRuleForm(request.POST if request.method == "POST" else None, rule=rule)
    if form.is_valid():
        saved(request, form)
        return redirect("dashboard:manage_alerts")
    return alerts_page(
        request,
        "dashboard/manage/alert.html",
        {
            "form": form,
            "rule": rule,
            "condition": rule_describe(rule),
            "history": notification_history(rule=rule),
        },
    )


@staff_view(methods=WRITE)
def alert_mute(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule.objects.select_related("application"), pk=rule_id)
    muted = request.POST.get("muted") == "on"
    alert_rule_mute(rule=rule, muted=muted, actor=request.user)
    messages.success(
        request,
        f"Alert “{rule.name}” muted: it is still checked, and sends nothing."
        if muted
        else f"Alert “{rule.name}” unmuted.",
    )
    return redirect("dashboard:manage_alerts")


@staff_view(methods=READ_WRITE)
def alert_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(AlertRule.objects.select_related("application"), pk=rule_id)
    if request.method == "POST":
        alert_rule_remove(rule=rule, actor=request.user)
        messages.success(request, f"Alert “{rule.name}” removed.")
        return redirect("dashboard:manage_alerts")
    return render_manage(
        request,
        "dashboard/manage/confirm.html",
        {
            "title": f"Remove the alert “{rule.name}”",
            "crumbs": [(reverse("dashboard:manage_alerts"), "Alerts")],
            "facts": [("Condition", rule_describe(rule)), ("State", rule.get_state_display())],
            "consequence": "The rule and the history of its notifications go; nothing more is "
            "sent for it, not even a resolved notice for an incident under way.",
            "button": "Remove alert",
            "cancel_url": reverse("dashboard:manage_alerts"),
        },
        section="alerts",
    )
