"""Applications: their volume and keys, and the forms that create them."""

from datetime import UTC, datetime, time
from typing import Any

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from dashboard.charts import volume_figure
from dashboard.manage_forms import ApplicationCreateForm, KeyRightsForm, PublishableKeyForm
from dashboard.views.manage.common import READ, READ_WRITE, render_manage, staff_view
from dashboard.views.manage.new_key import secret_pop
from events.applications import (
    application_daily_volume,
    application_summaries,
    application_summary,
)
from events.keys import application_create
from events.models import ApiKey, Application
from events.rollups import Granularity, Series
from eye.tracker import TRACKER_STUB

ISSUE_PREFIX = "issue"


@staff_view(methods=READ_WRITE)
def application_list(request: HttpRequest) -> HttpResponse:
    form = ApplicationCreateForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            # A savepoint, so that a double-clicked Create (two requests racing past the
            # form's check) ends in a form error rather than a broken transaction.
            with transaction.atomic():
                application = application_create(name=form.cleaned_data["name"], actor=request.user)
        except IntegrityError:
            form.add_error("name", "There is already an application with this name.")
        else:
            messages.success(
                request, f"Application {application.name} created. Issue its first key below."
            )
            return redirect("dashboard:manage_application", application.pk)
    return render_manage(
        request,
        "dashboard/manage/applications.html",
        {"form": form, "summaries": application_summaries()},
        section="applications",
    )


def volume_chart(application: Application) -> tuple[dict, int]:
    """Events per UTC day over the last 30 days, drawn as the overview draws its bars
    (today's bar, still filling, hatched); and their total."""
    days = application_daily_volume(application_id=application.pk)
    buckets = [datetime.combine(day, time.min, tzinfo=UTC) for day, _ in days]
    series = Series(buckets=buckets, values={application.name: [count for _, count in days]})
    figure = volume_figure(
        series=series, granularity=Granularity.DAY, colours={}, incomplete=buckets[-1]
    )
    return figure, series.total()


def tracker_snippet(request: HttpRequest, api_key: ApiKey) -> str:
    """The two lines that a site pastes into its pages to send events with this key: the
    stub that holds calls made before the script has loaded, and the script."""
    src = request.build_absolute_uri(reverse("tracker"))
    return f'{TRACKER_STUB}\n<script defer src="{src}" data-key="{api_key.public_key}"></script>'


def application_page(
    request: HttpRequest,
    application: Application,
    *,
    issue_form: KeyRightsForm | None = None,
    publishable_form: PublishableKeyForm | None = None,
    status: int | None = None,
) -> HttpResponse:
    """The application page; also answers a key form that came back with errors."""
    figure, total = volume_chart(application)
    keys = list(application.keys.all())
    context: dict[str, Any] = {
        "application": application,
        "summary": application_summary(application=application),
        "figure": figure,
        "volume_total": total,
        "keys": keys,
        "publishable_form": publishable_form or PublishableKeyForm.for_new_key(),
        "snippets": [
            (key, tracker_snippet(request, key))
            for key in keys
            if key.is_publishable and key.revoked_at is None
        ],
        "issue_form": issue_form or KeyRightsForm(prefix=ISSUE_PREFIX, initial={"can_write": True}),
        "new_key": secret_pop(request, application=application),
    }
    response = render_manage(
        request, "dashboard/manage/application.html", context, section="applications", status=status
    )
    if context["new_key"] is not None:
        # The secret is on this page once: no cache may keep it for the back button.
        add_never_cache_headers(response)
    return response


@staff_view(methods=READ)
def application_detail(request: HttpRequest, application_id: int) -> HttpResponse:
    return application_page(request, get_object_or_404(Application, pk=application_id))
