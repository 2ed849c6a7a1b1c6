"""Login lockouts: the user names and addresses with failed logins that still count, which
of them are locked out, and a button that lifts a lockout."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from dashboard.manage_forms import LockoutClearForm
from dashboard.views.manage.common import READ, WRITE, render_manage, staff_view
from events.lockouts import lockout_clear, lockout_list


@staff_view(methods=READ)
def lockouts(request: HttpRequest) -> HttpResponse:
    return render_manage(
        request,
        "dashboard/manage/lockouts.html",
        {
            "lockouts": lockout_list(),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        section="lockouts",
    )


@staff_view(methods=WRITE)
def lockout_unlock(request: HttpRequest) -> HttpResponse:
    form = LockoutClearForm(request.POST)
    if form.is_valid():
        kind, value = form.cleaned_data["kind"], form.cleaned_data["value"]
        lockout_clear(kind=kind, value=value, actor=request.user)
        messages.success(request, f"Failed logins of {kind} {value} cleared: it may log in again.")
    else:
        messages.error(request, f"Nothing to unlock: {form.problems()}")
    return redirect("dashboard:manage_lockouts")
