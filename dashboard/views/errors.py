"""Ingest errors: the requests the API refused, newest first, and what they had in common."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse

from dashboard.forms import ErrorsForm
from dashboard.views.common import dashboard_view, render_page
from events.models import Refusal
from events.stats import refusal_count, refusal_reason_counts

PER_PAGE = 50


@dashboard_view
def errors(request: HttpRequest) -> HttpResponse:
    form = ErrorsForm(request.GET)
    time_range, app_id = form.time_range, form.application_id
    assert time_range.start is not None and time_range.end is not None
    refusals = Refusal.objects.filter(
        created_at__gte=time_range.start, created_at__lt=time_range.end
    ).select_related("application")
    if app_id is not None:
        refusals = refusals.filter(application_id=app_id)
    # The log is bounded (EYE_REFUSALS_KEPT), so numbered pages and their count stay cheap.
    paginator = Paginator(refusals.order_by("-created_at", "-id"), PER_PAGE)
    page_number = (form.cleaned_data.get("page") if form.is_valid() else None) or 1
    page = paginator.get_page(page_number)
    total = refusal_count(start=time_range.start, end=time_range.end, application_id=app_id)
    return render_page(
        request,
        "dashboard/errors.html",
        {
            "form": form,
            "time_range": time_range,
            "page": page,
            "total": total,
            "reasons": refusal_reason_counts(
                start=time_range.start, end=time_range.end, application_id=app_id
            ),
            "newer_page": page.previous_page_number() if page.has_previous() else None,
            "older_page": page.next_page_number() if page.has_next() else None,
        },
        nav="errors",
    )
