"""The audit log: every staff action, newest first, filtered by action and by who."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse

from dashboard.manage_forms import AuditFilterForm, action_label
from dashboard.views.manage.common import READ, render_manage, staff_view
from events.models import AuditEntry

PER_PAGE = 50


@staff_view(methods=READ)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    cleaned = form.cleaned_data if form.is_valid() else {}
    entries = AuditEntry.objects.all()
    if cleaned.get("action"):
        entries = entries.filter(action=cleaned["action"])
    if cleaned.get("actor"):
        entries = entries.filter(actor_name=cleaned["actor"])
    # Staff actions are few, so numbered pages and their count stay cheap; the model
    # orders by (created_at, id) descending, so entries of the same instant keep their place.
    page = Paginator(entries, PER_PAGE).get_page(cleaned.get("page") or 1)
    return render_manage(
        request,
        "dashboard/manage/audit.html",
        {
            "form": form,
            "page": page,
            "action_labels": {
                action.value: action_label(action.value) for action in AuditEntry.Action
            },
            "newer_page": page.previous_page_number() if page.has_previous() else None,
            "older_page": page.next_page_number() if page.has_next() else None,
        },
        section="audit",
    )
