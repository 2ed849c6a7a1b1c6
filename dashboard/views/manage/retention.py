"""Retention: the rules, how many events a new rule would remove, and the last run.

Saving a rule is two steps, because a shorter rule removes events at the next run and
nothing brings them back: the form's POST only previews the count, and the Confirm
button posts the same values again with confirm=yes to save them.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from dashboard.manage_forms import RetentionRuleForm
from dashboard.templatetags.eye import utc
from dashboard.views.common import url_number
from dashboard.views.manage.common import READ_WRITE, WRITE, render_manage, staff_view
from events.models import RetentionRule, RetentionRun
from events.retention import retention_preview, retention_rule_remove, retention_rule_save
from tasks.tasks import retention_enforce_enqueue


@dataclass(frozen=True)
class Preview:
    rule: RetentionRule  # unsaved: what the form describes
    removed: int
    current: RetentionRule | None  # the rule of the same scope that it would replace


def rules_in_order() -> list[RetentionRule]:
    """The global rule first, then applications by name, each before its categories."""
    rules = RetentionRule.objects.select_related("application")
    return sorted(
        rules,
        key=lambda rule: (
            rule.application is not None,
            rule.application.name if rule.application else "",
            rule.category,
        ),
    )


def initial_of(request: HttpRequest) -> dict:
    """The form filled with a rule's values when its Change link (?rule=<id>) was followed."""
    rule_id = url_number(request.GET.get("rule", ""))
    rule = RetentionRule.objects.filter(pk=rule_id).first() if rule_id is not None else None
    if rule is None:
        return {}
    return {"application": rule.application, "category": rule.category, "days": rule.days}


@staff_view(methods=READ_WRITE)
def retention(request: HttpRequest) -> HttpResponse:
    preview = None
    if request.method == "POST":
        form = RetentionRuleForm(request.POST)
        if form.is_valid():
            application = form.cleaned_data["application"]
            category, days = form.cleaned_data["category"], form.cleaned_data["days"]
            if request.POST.get("confirm") == "yes":
                rule = retention_rule_save(
                    application=application, category=category, days=days, actor=request.user
                )
                messages.success(
                    request, f"Retention rule saved: {rule.scope}, kept {rule.days:,} days."
                )
                return redirect("dashboard:manage_retention")
            preview = Preview(
                rule=RetentionRule(application=application, category=category, days=days),
                removed=retention_preview(application=application, category=category, days=days),
                current=RetentionRule.objects.filter(
                    application=application, category=category
                ).first(),
            )
    else:
        form = RetentionRuleForm(initial=initial_of(request))
    return render_manage(
        request,
        "dashboard/manage/retention.html",
        {
            "form": form,
            "preview": preview,
            "rules": rules_in_order(),
            "last_run": RetentionRun.objects.first(),
        },
        section="retention",
    )


@staff_view(methods=WRITE)
def retention_run(request: HttpRequest) -> HttpResponse:
    retention_enforce_enqueue()
    messages.success(
        request, "Retention will run in the worker within moments; reload to see what it removed."
    )
    return redirect("dashboard:manage_retention")


@staff_view(methods=READ_WRITE)
def retention_remove(request: HttpRequest, rule_id: int) -> HttpResponse:
    rule = get_object_or_404(RetentionRule.objects.select_related("application"), pk=rule_id)
    if request.method == "POST":
        retention_rule_remove(rule=rule, actor=request.user)
        messages.success(request, f"Retention rule removed: {rule.scope}.")
        return redirect("dashboard:manage_retention")
    if rule.is_global:
        then = "Events that no other rule covers will be kept for ever."
    else:
        then = "Its events will follow the next less specific rule, or be kept for ever if none."
    return render_manage(
        request,
        "dashboard/manage/confirm.html",
        {
            "title": f"Remove the retention rule for {rule.scope}",
            "crumbs": [(reverse("dashboard:manage_retention"), "Retention")],
            "facts": [
                ("Applies to", rule.scope),
                ("Keeps events", f"{rule.days:,} days"),
                ("Updated", f"{utc(rule.updated_at)} UTC"),
            ],
            "consequence": f"{then} No event is removed by removing a rule.",
            "button": "Remove rule",
            "cancel_url": reverse("dashboard:manage_retention"),
        },
        section="retention",
    )
