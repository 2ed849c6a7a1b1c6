"""Deletion requests: every event of a session, or of an application over a time range.

Two steps, as for retention: the form's POST counts the events and shows a Confirm
button, which posts the same values again with confirm=yes; only then is the request
recorded and its task queued. The list of requests polls its own rows (eye.js) while any
is still under way, so the progress bars move without a reload.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render

from dashboard.manage_forms import RangeDeletionForm, SessionDeletionForm
from dashboard.views.manage.common import READ, READ_WRITE, render_manage, staff_view
from events.erasure import DeletionScope, deletion_count, deletion_request_create
from events.models import Application, DeletionRequest
from tasks.tasks import delete_events_enqueue

DeletionForm = SessionDeletionForm | RangeDeletionForm
FORMS: dict[str, type[DeletionForm]] = {"session": SessionDeletionForm, "range": RangeDeletionForm}
LISTED = 50
POLL_SECONDS = 2
UNDER_WAY = (DeletionRequest.Status.PENDING, DeletionRequest.Status.RUNNING)


@dataclass(frozen=True)
class Preview:
    kind: str
    form: DeletionForm
    scope: str
    count: int


def scope_text(scope: DeletionScope) -> str:
    """The scope in the words the list of requests uses for it."""
    application = Application.objects.filter(pk=scope.application_id).first()
    return DeletionRequest(
        application=application, session_id=scope.session_id, start=scope.start, end=scope.end
    ).scope


def requests_context() -> dict:
    under_way = DeletionRequest.objects.filter(status__in=UNDER_WAY).exists()
    return {
        "requests": DeletionRequest.objects.select_related("application", "requested_by")[:LISTED],
        "under_way": under_way,
        "poll_seconds": POLL_SECONDS,
        "listed": LISTED,
    }


@staff_view(methods=READ_WRITE)
def deletions(request: HttpRequest) -> HttpResponse:
    forms: dict[str, DeletionForm] = {kind: form(prefix=kind) for kind, form in FORMS.items()}
    preview, status = None, None
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        if kind not in FORMS:
            return HttpResponseBadRequest(
                "kind must be session or range", content_type="text/plain"
            )
        form = forms[kind] = FORMS[kind](request.POST, prefix=kind)
        if not form.is_valid():
            status = 400
        elif request.POST.get("confirm") == "yes":
            deletion_request = deletion_request_create(
                scope=form.cleaned_data["scope"], actor=request.user
            )
            delete_events_enqueue(deletion_request=deletion_request)
            messages.success(
                request,
                f"Deletion #{deletion_request.pk} requested: {deletion_request.expected:,} "
                f"event{'s' if deletion_request.expected != 1 else ''} of "
                f"{deletion_request.scope} will be deleted in the background.",
            )
            return redirect("dashboard:manage_deletions")
        else:
            scope = form.cleaned_data["scope"]
            preview = Preview(
                kind=kind, form=form, scope=scope_text(scope), count=deletion_count(scope=scope)
            )
    return render_manage(
        request,
        "dashboard/manage/deletions.html",
        {
            "session_form": forms["session"],
            "range_form": forms["range"],
            "preview": preview,
            **requests_context(),
        },
        section="deletions",
        status=status,
    )


@staff_view(methods=READ)
def deletion_rows(request: HttpRequest) -> HttpResponse:
    """The list's rows alone, for the page's poll; X-Eye-Active says whether any request
    is still under way (the page stops asking once none is)."""
    context = requests_context()
    response = render(request, "dashboard/manage/deletion_rows.html", context)
    response["X-Eye-Active"] = "1" if context["under_way"] else "0"
    response["Cache-Control"] = "no-store"
    return response
