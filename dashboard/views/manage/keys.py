"""An application's keys: issue, change, rotate and revoke. Rotation and revocation cut
clients off at once, so each asks for confirmation on a page of its own first."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from dashboard.manage_forms import KeyRightsForm
from dashboard.templatetags.eye import utc
from dashboard.views.manage.applications import ISSUE_PREFIX, application_page
from dashboard.views.manage.common import READ_WRITE, WRITE, render_manage, staff_view
from dashboard.views.manage.new_key import secret_stash
from dashboard.views.manage.publishable import publishable_key_page
from events.keys import api_key_create, api_key_revoke, api_key_rotate, api_key_update
from events.models import ApiKey, Application


def rate_limit_text(api_key: ApiKey) -> str:
    limit = api_key.rate_limit_per_minute
    return f"{limit:,} requests a minute" if limit else "no rate limit"


def back_to_application(api_key: ApiKey) -> HttpResponse:
    return redirect("dashboard:manage_application", api_key.application_id)


@staff_view(methods=WRITE)
def key_issue(request: HttpRequest, application_id: int) -> HttpResponse:
    application = get_object_or_404(Application, pk=application_id)
    form = KeyRightsForm(request.POST, prefix=ISSUE_PREFIX)
    if not form.is_valid():
        return application_page(request, application, issue_form=form, status=400)
    api_key, secret = api_key_create(
        application=application, **form.cleaned_data, actor=request.user
    )
    secret_stash(request, api_key=api_key, secret=secret, action="issued")
    messages.success(
        request, f"Key {api_key.prefix}… issued: {api_key.rights}, {rate_limit_text(api_key)}."
    )
    return back_to_application(api_key)


@staff_view(methods=READ_WRITE)
def key_detail(request: HttpRequest, key_id: int) -> HttpResponse:
    """One key, and the form that changes its rights and rate limit (live keys only)."""
    api_key = get_object_or_404(ApiKey.objects.select_related("application"), pk=key_id)
    if api_key.is_publishable:
        return publishable_key_page(request, api_key)
    form = None
    if api_key.revoked_at is None:
        form = KeyRightsForm.of(api_key, request.POST if request.method == "POST" else None)
        if form.is_valid():
            api_key_update(api_key=api_key, **form.cleaned_data, actor=request.user)
            messages.success(
                request,
                f"Key {api_key.prefix}… changed: {api_key.rights}, {rate_limit_text(api_key)}.",
            )
            return back_to_application(api_key)
    return render_manage(
        request,
        "dashboard/manage/key.html",
        {"api_key": api_key, "form": form},
        section="applications",
    )


def confirm_page(
    request: HttpRequest, api_key: ApiKey, *, action: str, consequence: str, button: str
) -> HttpResponse:
    revoked = api_key.revoked_at is not None
    return render_manage(
        request,
        "dashboard/manage/confirm.html",
        {
            "title": f"{action} key {api_key.prefix}…",
            "crumbs": [
                (reverse("dashboard:manage_applications"), "Applications"),
                (
                    reverse("dashboard:manage_application", args=[api_key.application_id]),
                    api_key.application.name,
                ),
            ],
            "facts": [
                ("Rights", api_key.rights),
                ("Rate limit", rate_limit_text(api_key)),
                ("Created", f"{utc(api_key.created_at)} UTC"),
            ],
            # A revoked key is past both actions: the page says so and offers neither.
            "consequence": (
                f"This key was revoked at {utc(api_key.revoked_at)} UTC; there is nothing to do."
                if revoked
                else consequence
            ),
            "button": None if revoked else button,
            "cancel_url": reverse("dashboard:manage_application", args=[api_key.application_id]),
        },
        section="applications",
    )


@staff_view(methods=READ_WRITE)
def key_rotate(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.select_related("application"), pk=key_id)
    if request.method != "POST":
        return confirm_page(
            request,
            api_key,
            action="Rotate",
            consequence="A new key with the same rights and rate limit replaces this one. "
            "This key stops working at once: clients must be given the new one.",
            button="Rotate key",
        )
    try:
        new_key, secret = api_key_rotate(api_key=api_key, actor=request.user)
    except ValueError:
        # Someone revoked it since the page was drawn.
        messages.error(request, f"Key {api_key.prefix}… is revoked; issue a new key instead.")
        return back_to_application(api_key)
    if not new_key.is_publishable:
        # A publishable key is public: the application page always shows its snippet.
        secret_stash(request, api_key=new_key, secret=secret, action="rotated")
    messages.success(request, f"Key {api_key.prefix}… rotated: {new_key.prefix}… replaces it.")
    return back_to_application(api_key)


@staff_view(methods=READ_WRITE)
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    api_key = get_object_or_404(ApiKey.objects.select_related("application"), pk=key_id)
    if request.method != "POST":
        return confirm_page(
            request,
            api_key,
            action="Revoke",
            consequence="Requests made with this key are refused (401) from now on. "
            "A revoked key cannot be brought back.",
            button="Revoke key",
        )
    api_key_revoke(api_key=api_key, actor=request.user)
    messages.success(request, f"Key {api_key.prefix}… revoked: requests with it now get 401.")
    return back_to_application(api_key)
