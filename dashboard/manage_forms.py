"""Forms of the staff pages. They catch what a person can get wrong before a service is
called; the services in events/ check again, do the work and write the audit log."""

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from events.erasure import DeletionScope, ScopeError
from events.event_schemas import SCHEMA_MAX_DEPTH
from events.keys import MAX_RATE_LIMIT
from events.models import ApiKey, Application, AuditEntry, EventSchema
from events.origins import OriginError, origins_normalize
from events.tracked_keys import tracked_key_problem
from insights.forms import ApplicationField, UtcDateTimeField

# A hundred years. Longer is "forever", which is what having no rule already means.
MAX_RETENTION_DAYS = 36_500


def application_choice(
    *, required: bool, empty_label: str | None = "All applications"
) -> ApplicationField:
    return ApplicationField(
        queryset=Application.objects.all(),
        required=required,
        empty_label=empty_label,
        label="Application",
    )


class ApplicationCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Name",
        help_text="How the dashboard names it, e.g. web or ios. It cannot be changed later.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs.update(autocomplete="off", spellcheck="false")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        # Names are compared exactly by the database; "Web" beside "web" would only confuse.
        existing = Application.objects.filter(name__iexact=name).first()
        if existing is not None:
            raise ValidationError(f"There is already an application called {existing.name}.")
        return name


class KeyRightsForm(forms.Form):
    """What a key may do: issue a key with these, or change a live key's."""

    can_read = forms.BooleanField(required=False, label="Read", help_text="query events")
    can_write = forms.BooleanField(required=False, label="Write", help_text="send events")
    can_read_all_applications = forms.BooleanField(
        required=False,
        label="Read every application",
        help_text="query the events of all applications, not only this one's (operators, the CLI)",
    )
    rate_limit_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RATE_LIMIT,
        label="Rate limit per minute",
        help_text="Requests a minute; empty for no limit.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rate_limit_per_minute"].widget.attrs.update(placeholder="no limit")

    @classmethod
    def of(cls, api_key: ApiKey, data: Any = None) -> "KeyRightsForm":
        return cls(
            data,
            initial={
                "can_read": api_key.can_read,
                "can_write": api_key.can_write,
                "can_read_all_applications": api_key.can_read_all_applications,
                "rate_limit_per_minute": api_key.rate_limit_per_minute,
            },
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("can_read") and not cleaned.get("can_write"):
            raise ValidationError("A key needs read rights, write rights or both.")
        if cleaned.get("can_read_all_applications") and not cleaned.get("can_read"):
            self.add_error(
                "can_read_all_applications", "Reading every application needs the Read right."
            )
        return cleaned


class PublishableKeyForm(forms.Form):
    """A publishable key's allowed origins and rate limit: issue one, or change a live one's."""

    origins = forms.CharField(
        label="Allowed origins",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "code"}),
        help_text="One a line: https://shop.example.com, or https://*.example.com for "
        "its subdomains. Pages elsewhere are refused.",
    )
    rate_limit_per_minute = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_RATE_LIMIT,
        label="Key limit, requests a minute",
        help_text="For the whole key; empty for no limit. Each visitor's address has its "
        "own limit too.",
    )

    @classmethod
    def for_new_key(cls, data: Any = None) -> "PublishableKeyForm":
        limit = settings.EYE_PUBLISHABLE_KEY_RATE_LIMIT or None
        return cls(data, prefix="publishable", initial={"rate_limit_per_minute": limit})

    @classmethod
    def of(cls, api_key: ApiKey, data: Any = None) -> "PublishableKeyForm":
        return cls(
            data,
            initial={
                "origins": "\n".join(api_key.origins),
                "rate_limit_per_minute": api_key.rate_limit_per_minute,
            },
        )

    def clean_origins(self) -> list[str]:
        lines = self.cleaned_data["origins"].replace(",", "\n").splitlines()
        try:
            return origins_normalize(lines)
        except OriginError as exc:
            raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None


class RetentionRuleForm(forms.Form):
    application = application_choice(required=False)
    category = forms.CharField(
        required=False, max_length=255, label="Category", help_text="Empty for every category."
    )
    days = forms.IntegerField(min_value=1, max_value=MAX_RETENTION_DAYS, label="Keep for (days)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].widget.attrs.update(
            list="category-list", autocomplete="off", placeholder="any"
        )


class SessionDeletionForm(forms.Form):
    """Every event of one session: what an erasure request usually asks for."""

    session_id = forms.UUIDField(label="Session id")
    application = application_choice(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["session_id"].widget.attrs.update(spellcheck="false", autocomplete="off")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "session_id" in cleaned:
            application = cleaned.get("application")
            cleaned["scope"] = DeletionScope(
                session_id=cleaned["session_id"],
                application_id=application.pk if application else None,
            )
        return cleaned


class RangeDeletionForm(forms.Form):
    """Every event of one application between two instants: a bad deploy's junk."""

    application = application_choice(required=True, empty_label=None)
    start = UtcDateTimeField(label="From (UTC)")
    end = UtcDateTimeField(label="To (UTC)", help_text="Events before this instant; not at it.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if {"application", "start", "end"} <= cleaned.keys():
            # The scope checks itself (both ends given, start before end); its words are
            # the form's.
            try:
                cleaned["scope"] = DeletionScope(
                    application_id=cleaned["application"].pk,
                    start=cleaned["start"],
                    end=cleaned["end"],
                )
            except ScopeError as exc:
                raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
        return cleaned


class EventSchemaForm(forms.Form):
    """A kind of event (category and name, for one application or all) and its schema.
    When an existing schema is edited its kind is fixed: saving another kind would leave
    the old schema behind or overwrite one already there."""

    application = application_choice(required=False)
    category = forms.CharField(max_length=255, label="Category")
    name = forms.CharField(max_length=255, label="Name")
    schema = forms.CharField(
        label="JSON Schema",
        widget=forms.Textarea(attrs={"rows": 16, "spellcheck": "false", "class": "code"}),
        help_text="What the data of these events must match (JSON Schema, draft 2020-12 "
        "unless $schema says otherwise).",
    )

    def __init__(self, *args: Any, event_schema: EventSchema | None = None, **kwargs: Any) -> None:
        if event_schema is not None:
            kwargs["initial"] = {
                "application": event_schema.application,
                "category": event_schema.category,
                "name": event_schema.name,
                "schema": json.dumps(event_schema.schema, indent=2, ensure_ascii=False),
            }
        super().__init__(*args, **kwargs)
        self.event_schema = event_schema
        self.fields["category"].widget.attrs.update(list="category-list", autocomplete="off")
        self.fields["name"].widget.attrs.update(list="name-list", autocomplete="off")
        if event_schema is not None:
            for name in ("application", "category", "name"):
                self.fields[name].disabled = True

    def clean_schema(self) -> Any:
        try:
            return json.loads(self.cleaned_data["schema"])
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"This is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
            ) from None
        except RecursionError:
            # The standard library's parser recurses once per level, and gives up hundreds
            # of levels past what event_schema_save accepts.
            raise ValidationError(
                f"The schema nests objects and arrays more than {SCHEMA_MAX_DEPTH} levels deep."
            ) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.event_schema is None and {"category", "name"} <= cleaned.keys():
            application = cleaned.get("application")
            taken = EventSchema.objects.filter(
                application=application, category=cleaned["category"], name=cleaned["name"]
            ).exists()
            if taken:
                owner = application.name if application else "all applications"
                self.add_error(
                    "name", f"This kind has a schema for {owner} already; edit that one instead."
                )
        return cleaned


class TrackedKeyForm(forms.Form):
    """A data key to track. The service checks it again, and whether it is tracked
    already or would be one too many."""

    key = forms.CharField(
        required=False,
        label="Data key",
        help_text="A key of the events' data; a dotted path reaches into objects (form.plan).",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["key"].widget.attrs.update(
            autocomplete="off", spellcheck="false", placeholder="e.g. path"
        )

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        problem = tracked_key_problem(key)
        if problem is not None:
            raise ValidationError(problem)
        return key


def action_label(action: str) -> str:
    """ "key.issued" → "Key issued"."""
    return AuditEntry.Action(action).label.capitalize()


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, label="Action")
    actor = forms.ChoiceField(required=False, label="Who")
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [
            (action.value, action_label(action.value)) for action in AuditEntry.Action
        ]
        # The log holds staff actions only: a few thousand rows, so the distinct names
        # are read afresh each time.
        actors = (
            AuditEntry.objects.order_by("actor_name")
            .values_list("actor_name", flat=True)
            .distinct()
        )
        self.fields["actor"].choices = [("", "Anyone")] + [(name, name) for name in actors]
        for name in ("action", "actor"):
            self.fields[name].widget.attrs["data-autosubmit"] = ""


class LockoutClearForm(forms.Form):
    """Which login lockout to lift: a user name's or an address's."""

    kind = forms.ChoiceField(choices=[("user", "user"), ("address", "address")])
    value = forms.CharField(max_length=255, label="User name or address")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("kind") == "address" and "value" in cleaned:
            # axes keeps addresses in an inet column, which cannot even be asked for
            # anything else; this also spells an IPv6 address as that column gives it back.
            try:
                cleaned["value"] = forms.GenericIPAddressField().clean(cleaned["value"])
            except ValidationError as exc:
                self.add_error("value", exc)
        return cleaned

    def problems(self) -> str:
        """The form's errors in one line, each after its field's label, for a message."""
        return "; ".join(
            f"{self[name].label}: {' '.join(errors)}" for name, errors in self.errors.items()
        )
