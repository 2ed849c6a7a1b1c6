"""Event schemas: the JSON Schema that the data of a kind of event must match."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse

from dashboard.manage_forms import EventSchemaForm
from dashboard.templatetags.eye import utc
from dashboard.views.manage.common import READ_WRITE, render_manage, staff_view
from events.event_schemas import event_schema_remove, event_schema_save
from events.models import EventSchema


def schema_saved(request: HttpRequest, form: EventSchemaForm) -> EventSchema | None:
    """Save a valid form through the service; a schema the service refuses (not a usable
    JSON Schema) becomes the form's error and nothing is saved."""
    cleaned = form.cleaned_data
    try:
        return event_schema_save(
            application=cleaned["application"],
            category=cleaned["category"],
            name=cleaned["name"],
            schema=cleaned["schema"],
            actor=request.user,
        )
    except ValidationError as exc:
        form.add_error(None if hasattr(exc, "error_dict") else "schema", exc)
        return None


def schema_page(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    return render_manage(
        request,
        template,
        {**context, "require_schema": settings.EYE_REQUIRE_EVENT_SCHEMA},
        section="schemas",
    )


@staff_view(methods=READ_WRITE)
def schema_list(request: HttpRequest) -> HttpResponse:
    form = EventSchemaForm(request.POST if request.method == "POST" else None)
    if form.is_valid() and (event_schema := schema_saved(request, form)) is not None:
        messages.success(request, f"Schema for {event_schema} saved. New events are checked by it.")
        return redirect("dashboard:manage_schemas")
    return schema_page(
        request,
        "dashboard/manage/schemas.html",
        {"form": form, "schemas": EventSchema.objects.select_related("application")},
    )


@staff_view(methods=READ_WRITE)
def schema_detail(request: HttpRequest, schema_id: int) -> HttpResponse:
    event_schema = get_object_or_404(
        EventSchema.objects.select_related("application"), pk=schema_id
    )
    form = EventSchemaForm(
        request.POST if request.method == "POST" else None, event_schema=event_schema
    )
    if form.is_valid() and schema_saved(request, form) is not None:
        messages.success(request, f"Schema for {event_schema} saved. New events are checked by it.")
        return redirect("dashboard:manage_schemas")
    return schema_page(
        request, "dashboard/manage/schema.html", {"form": form, "event_schema": event_schema}
    )


def removal_consequence(event_schema: EventSchema) -> str:
    """What happens to new events of the kind once its schema is gone."""
    shared = (
        event_schema.application_id is not None
        and EventSchema.objects.filter(
            application=None, category=event_schema.category, name=event_schema.name
        ).exists()
    )
    if shared:
        then = "New events of this kind will be checked by the schema shared by all applications."
    elif settings.EYE_REQUIRE_EVENT_SCHEMA:
        then = (
            "New events of this kind will be refused: this server accepts only kinds with a schema."
        )
    else:
        then = "New events of this kind will be accepted whatever their data holds."
    return f"{then} Events already stored stay as they are."


@staff_view(methods=READ_WRITE)
def schema_remove(request: HttpRequest, schema_id: int) -> HttpResponse:
    event_schema = get_object_or_404(
        EventSchema.objects.select_related("application"), pk=schema_id
    )
    if request.method == "POST":
        event_schema_remove(event_schema=event_schema, actor=request.user)
        messages.success(request, f"Schema for {event_schema} removed.")
        return redirect("dashboard:manage_schemas")
    return render_manage(
        request,
        "dashboard/manage/confirm.html",
        {
            "title": f"Remove the schema for {event_schema}",
            "crumbs": [(reverse("dashboard:manage_schemas"), "Event schemas")],
            "facts": [
                ("Category", event_schema.category),
                ("Name", event_schema.name),
                (
                    "Application",
                    event_schema.application.name
                    if event_schema.application
                    else "all applications",
                ),
                ("Updated", f"{utc(event_schema.updated_at)} UTC"),
            ],
            "consequence": removal_consequence(event_schema),
            "button": "Remove schema",
            "cancel_url": reverse("dashboard:manage_schemas"),
        },
        section="schemas",
    )
