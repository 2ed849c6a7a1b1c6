"""Each user's digest: the overview's numbers, or a saved dashboard's, by e-mail, daily or
weekly, or none."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from alerts.digests import digest_build, digest_subscribe
from alerts.models import DigestSubscription
from dashboard.alert_forms import DigestForm
from dashboard.views.common import busy_when_slots_are_taken, render_page
from events.insight_sql import DASHBOARD_SLOTS
from insights.ranges import utc_now


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
@busy_when_slots_are_taken
def digest(request: HttpRequest) -> HttpResponse:
    subscription = DigestSubscription.objects.filter(user=request.user).first()
    initial = {
        "frequency": subscription.frequency if subscription else "",
        "application": subscription.application if subscription else None,
        "dashboard": subscription.dashboard if subscription else None,
        "email": request.user.email,
    }
    form = DigestForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_valid():
        cleaned = form.cleaned_data
        if cleaned["email"] != request.user.email:
            request.user.email = cleaned["email"]
            request.user.save(update_fields=["email"])
        digest_subscribe(
            user=request.user,
            frequency=cleaned["frequency"],
            application=cleaned["application"],
            dashboard=cleaned["dashboard"],
        )
        messages.success(
            request,
            f"You will get a {cleaned['frequency']} digest at {cleaned['email']}; the first "
            "one within the hour."
            if cleaned["frequency"]
            else "You will get no digest.",
        )
        return redirect("dashboard:digest")
    frequency = subscription.frequency if subscription else DigestSubscription.Frequency.WEEKLY
    dashboard = subscription.dashboard if subscription else None
    # A dashboard's digest computes its cards twice (this period and the one before),
    # each time holding a slot if they may read raw events.
    preview = digest_build(
        frequency=frequency,
        application=subscription.application if subscription else None,
        dashboard=dashboard,
        now=utc_now(),
        slots=DASHBOARD_SLOTS,
    )
    return render_page(
        request,
        "dashboard/digest.html",
        {"form": form, "subscription": subscription, "preview": preview},
        nav="digest",
    )
