"""Tracked data keys: the keys whose values are counted per hour, so that breakdowns by
them are fast. Adding one starts its backfill in the worker; removing one deletes its
counts."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from dashboard.manage_forms import TrackedKeyForm
from dashboard.templatetags.eye import utc
from dashboard.views.manage.common import READ_WRITE, render_manage, staff_view
from events.models import TrackedKey
from events.tracked_keys import (
    MAX_TRACKED_KEYS,
    TrackedKeyError,
    tracked_key_add,
    tracked_key_remove,
)
from tasks.tasks import backfill_tracked_key_enqueue


@staff_view(methods=READ_WRITE)
def tracked_key_list(request: HttpRequest) -> HttpResponse:
    # A breakdown's "Track it" link names the key: the form starts with it.
    form = TrackedKeyForm(
        request.POST if request.method == "POST" else None,
        initial={"key": request.GET.get("key", "")},
    )
    if form.is_valid():
        try:
            tracked = tracked_key_add(key=form.cleaned_data["key"], actor=request.user)
        except TrackedKeyError as exc:
            form.add_error("key", str(exc))
        else:
            backfill_tracked_key_enqueue(tracked_key=tracked)
            messages.success(
                request,
                f"{tracked.key} is tracked. The worker counts its values in the events "
                "stored so far; until it is done, breakdowns by it read raw events.",
            )
            return redirect("dashboard:manage_tracked_keys")
    tracked_keys = list(TrackedKey.objects.all())
    return render_manage(
        request,
        "dashboard/manage/tracked_keys.html",
        {
            "form": form,
            "tracked_keys": tracked_keys,
            "max_tracked_keys": MAX_TRACKED_KEYS,
            "room": len(tracked_keys) < MAX_TRACKED_KEYS,
        },
        section="tracked_keys",
    )


@staff_view(methods=READ_WRITE)
def tracked_key_untrack(request: HttpRequest, tracked_key_id: int) -> HttpResponse:
    tracked = get_object_or_404(TrackedKey, pk=tracked_key_id)
    if request.method == "POST":
        tracked_key_remove(tracked_key=tracked, actor=request.user)
        messages.success(request, f"{tracked.key} is no longer tracked; its counts are deleted.")
        return redirect("dashboard:manage_tracked_keys")
    return render_manage(
        request,
        "dashboard/manage/confirm.html",
        {
            "title": f"Stop tracking {tracked.key}",
            "crumbs": [(reverse("dashboard:manage_tracked_keys"), "Tracked keys")],
            "facts": [
                ("Key", tracked.key),
                ("Tracked since", f"{utc(tracked.created_at)} UTC"),
                ("State", "ready" if tracked.is_ready else "counting the stored events"),
            ],
            "consequence": "Its hourly counts are deleted, and breakdowns by it read raw "
            "events again. No event is removed. Tracking it again counts every stored "
            "event anew.",
            "button": "Stop tracking",
            "cancel_url": reverse("dashboard:manage_tracked_keys"),
        },
        section="tracked_keys",
    )
