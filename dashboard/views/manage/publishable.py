"""Publishable keys, for web pages: issued with their allowed origins from the application
page, which always shows their snippet (they are public by design), and changed on their
own page (keys.key_detail hands them here). Rotation and revocation are those of every
key (keys.py)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from dashboard.manage_forms import PublishableKeyForm
from dashboard.views.manage.applications import application_page, tracker_snippet
from dashboard.views.manage.common import WRITE, render_manage, staff_view
from events.keys import api_key_create, api_key_origins_update, api_key_update
from events.models import ApiKey, Application


@staff_view(methods=WRITE)
def publishable_issue(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=application_id)
    form = PublishableKeyForm.for_new_key(request.POST)
    if not form.is_valid():
        return application_page(request, application, publishable_form=form, status=400)
    api_key, _ = api_key_create(
        application=application,
        can_read=False,
        can_write=True,
        rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
        origins=form.cleaned_data["origins"],
        actor=request.user,
    )
    messages.success(
        request,
        f"Publishable key {api_key.prefix}… issued for {', '.join(api_key.origins)}. "
        "Paste its snippet into your pages.",
    )
    return redirect("dashboard:manage_application", application.pk)


def publishable_key_page(request: HttpRequest, api_key: ApiKey) -> HttpResponse:
    """A publishable key's page: its snippet, and (while live) its origins and limit."""
    form = None
    if api_key.revoked_at is None:
        form = PublishableKeyForm.of(api_key, request.POST if request.method == "POST" else None)
        if form.is_valid():
            api_key_origins_update(
                api_key=api_key, origins=form.cleaned_data["origins"], actor=request.user
            )
            api_key_update(
                api_key=api_key,
                can_read=False,
                can_write=True,
                rate_limit_per_minute=form.cleaned_data["rate_limit_per_minute"],
                actor=request.user,
            )
            messages.success(
                request,
                f"Key {api_key.prefix}… changed: allowed from {', '.join(api_key.origins)}.",
            )
            return redirect("dashboard:manage_application", api_key.application_id)
    return render_manage(
        request,
        "dashboard/manage/publishable_key.html",
        {"api_key": api_key, "form": form, "snippet": tracker_snippet(request, api_key)},
        section="applications",
        status=400 if form is not None and form.is_bound else None,
    )
