"""The GET forms that read what a page's URL, and so an insight saved from it, asks for: the
range and application every page filters by, the overview, the Explore filter, the category
and name pages, and the funnel builder. Their state lives in the URL (so a view is shared by
copying it), and their cleaned data feeds the same selectors the API uses, so a filter means
the same thing on every page, in every export and in every saved insight."""

from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from events.funnels import MAX_STEPS, MIN_STEPS, FunnelStep
from events.models import Application
from insights.ranges import (
    ALL_TIME,
    EARLIEST,
    LATEST,
    MAX_SPAN,
    PRESET_CHOICES,
    TimeRange,
    time_range_resolve,
)

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]


class UtcDateTimeField(forms.DateTimeField):
    """A datetime-local input read as UTC: the whole dashboard speaks UTC and says so."""

    widget = forms.DateTimeInput(
        attrs={
            "type": "datetime-local",
            "min": f"{EARLIEST:%Y-%m-%dT%H:%M}",
            "max": f"{LATEST:%Y-%m-%dT%H:%M}",
        },
        format="%Y-%m-%dT%H:%M",
    )
    input_formats = DATETIME_FORMATS
    default_error_messages = {
        "out_of_range": f"Pick a date from {EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}.",
    }

    def to_python(self, value: Any) -> datetime | None:
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
        except OverflowError:
            # An offset that moves year 1 or 9999 off the calendar.
            raise ValidationError(
                self.error_messages["out_of_range"], code="out_of_range"
            ) from None
        if not EARLIEST <= moment <= LATEST:
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        return moment


class ApplicationField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Application) -> str:
        return obj.name


class RangeForm(forms.Form):
    """A time range and an application: every page filters by these."""

    range = forms.ChoiceField(choices=PRESET_CHOICES, required=False, label="Range")
    start = UtcDateTimeField(required=False, label="From (UTC)")
    end = UtcDateTimeField(required=False, label="To (UTC)")
    # Applications are named in the URL (`app=web`), which reads better in a shared link.
    app = ApplicationField(
        queryset=Application.objects.all(),
        to_field_name="name",
        required=False,
        empty_label="All apps",
        label="App",
    )

    default_range = "24h"
    allow_all_time = False

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # The form is always bound, so that a bare URL shows the defaults in its widgets
        # and gets the same validation as a submitted one.
        data = data.copy() if data is not None else QueryDict(mutable=True)
        if not data.get("range"):
            data["range"] = "custom" if data.get("start") or data.get("end") else self.default_range
        self.set_defaults(data)
        super().__init__(data, **kwargs)
        choices = list(PRESET_CHOICES)
        if self.allow_all_time:
            choices.insert(-1, ALL_TIME)
        self.fields["range"].choices = choices
        self.fields["range"].initial = self.default_range
        self.fields["start"].widget.attrs["data-custom-range"] = ""
        self.fields["end"].widget.attrs["data-custom-range"] = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        preset = cleaned.get("range") or self.default_range
        start, end = cleaned.get("start"), cleaned.get("end")
        if preset == "custom":
            if start is None or end is None:
                raise ValidationError("A custom range needs both From and To.")
            if end <= start:
                raise ValidationError("The range must end after it starts.")
            if end - start > MAX_SPAN:
                raise ValidationError(f"A custom range can cover at most {MAX_SPAN.days} days.")
        cleaned["range"] = preset
        return cleaned

    def set_defaults(self, data: QueryDict) -> None:
        """Fill in what a bare URL leaves out (subclasses add theirs)."""

    @cached_property
    def time_range(self) -> TimeRange:
        """The range asked for; the default one when the form is invalid, so that a page
        can still draw its frame around the errors. Resolved once per request, so that
        every number on a page covers the same instants."""
        cleaned = self.cleaned_data if self.is_valid() else {}
        return time_range_resolve(
            preset=cleaned.get("range", self.default_range),
            start=cleaned.get("start"),
            end=cleaned.get("end"),
        )

    @property
    def application(self) -> Application | None:
        return self.cleaned_data.get("app") if self.is_valid() else None

    @property
    def application_id(self) -> int | None:
        application = self.application
        return application.pk if application else None


class ComparedRangeForm(RangeForm):
    """A range drawn beside the period of the same length just before it, unless the
    `compare` box is unticked."""

    compare = forms.BooleanField(required=False, label="Compare with previous period")

    def set_defaults(self, data: QueryDict) -> None:
        # The filter bar sends compare=false for an unticked box (templates/includes/
        # filter_bar.html), so a URL without it, shared or typed, compares.
        if "compare" not in data:
            data["compare"] = "on"

    @property
    def compares(self) -> bool:
        return self.cleaned_data.get("compare", True) if self.is_valid() else True


class OverviewForm(ComparedRangeForm):
    """The overview's range: its events by category, against the period before."""


class EventFilterForm(forms.Form):
    """What Explore, Live and exports filter events by, besides time and app."""

    session = forms.UUIDField(required=False, label="Session id")
    category = forms.CharField(required=False, max_length=255, label="Category")
    name = forms.CharField(required=False, max_length=255, label="Name")
    key = forms.CharField(required=False, max_length=255, label="Data key")
    value = forms.CharField(required=False, max_length=1000, label="Value", strip=False)

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["session"].widget.attrs.update(
            placeholder="any", spellcheck="false", autocomplete="off", size=14
        )
        for field, suggestions in (("category", "category-list"), ("name", "name-list")):
            self.fields[field].widget.attrs.update(
                list=suggestions,
                placeholder="any",
                autocomplete="off",
                title="An exact match, case included: pick one of the suggestions",
            )
        self.fields["key"].widget.attrs.update(placeholder="e.g. path", size=10)
        self.fields["value"].widget.attrs.update(placeholder="any", size=10)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("value") and not cleaned.get("key"):
            self.add_error("key", "Name the data key that should hold this value.")
        return cleaned

    def event_filters(self) -> dict[str, Any]:
        """Keyword arguments for events.selectors.event_list (and events.stats.event_count)."""
        cleaned = self.cleaned_data
        return {
            "session_id": cleaned.get("session"),
            "category": cleaned.get("category") or None,
            "name": cleaned.get("name") or None,
            "data_key": cleaned.get("key") or None,
            # An empty value means "has the key"; a value must be typed to match one.
            "data_value": cleaned.get("value") or None,
        }


class BreakdownKeyForm(forms.Form):
    """The data key a breakdown is by (`by`), as a page's URL and a saved insight carry
    it: a key as events name it, which the database can be asked for."""

    by = forms.CharField(required=False, max_length=255, label="Break down by")

    @property
    def key(self) -> str | None:
        return (self.cleaned_data.get("by") or None) if self.is_valid() else None


class ExploreForm(EventFilterForm, RangeForm):
    # The last 24 hours, as on every other page: a row of the overview followed to its
    # events (a link that keeps no range) then lists the events its counts were made of.
    allow_all_time = True

    field_order = ["range", "start", "end", "session", "category", "name", "app", "key", "value"]


class CategoryForm(RangeForm):
    category = forms.CharField(max_length=255, label="Category")

    field_order = ["category", "range", "start", "end", "app"]

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["category"].widget.attrs.update(list="category-list", autocomplete="off")


class NameForm(RangeForm):
    category = forms.CharField(required=False, max_length=255, label="Category")
    name = forms.CharField(max_length=255, label="Name")
    # Picked beside the values chart, from the keys the events carry; kept in the URL.
    key = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    field_order = ["category", "name", "range", "start", "end", "app"]

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["category"].widget.attrs.update(
            list="category-list", autocomplete="off", placeholder="any"
        )
        self.fields["name"].widget.attrs.update(list="name-list", autocomplete="off")


WINDOW_CHOICES = [
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
    ("2592000", "30 days"),
    ("7776000", "90 days"),
]
# Between a kind's category and name in a step's value: a tab cannot be typed into either.
KIND_SEPARATOR = "\t"


def kind_value(category: str, name: str) -> str:
    return f"{category}{KIND_SEPARATOR}{name}"


class FunnelForm(ComparedRangeForm):
    """A funnel: range, app, window, and steps `step1` … `step10`, each a kind picked from
    those stored, with an optional data condition `key1`=`value1`; its conversion per day
    beside the previous period's unless `compare` is unticked."""

    window = forms.ChoiceField(choices=WINDOW_CHOICES, required=False, label="Window")

    default_range = "30d"

    def __init__(self, data: Any = None, *, kinds: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        choices = [("", "—")] + [(kind_value(c, n), f"{c} / {n}") for c, n in sorted(kinds)]
        for i in range(1, MAX_STEPS + 1):
            self.fields[f"step{i}"] = forms.ChoiceField(
                choices=choices, required=False, label=f"Step {i}"
            )
            self.fields[f"key{i}"] = forms.CharField(
                required=False, max_length=255, label=f"Step {i} data key"
            )
            self.fields[f"value{i}"] = forms.CharField(
                required=False, max_length=1000, label=f"Step {i} value", strip=False
            )
            self.fields[f"key{i}"].widget.attrs.update(placeholder="key", size=8)
            self.fields[f"value{i}"].widget.attrs.update(placeholder="value", size=10)

    def set_defaults(self, data: QueryDict) -> None:
        super().set_defaults(data)
        if not data.get("window"):
            data["window"] = "86400"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        steps = []
        for i in range(1, MAX_STEPS + 1):
            kind = cleaned.get(f"step{i}")
            key, value = cleaned.get(f"key{i}") or None, cleaned.get(f"value{i}") or None
            if not kind:
                continue
            if value is not None and key is None:
                self.add_error(f"key{i}", "Name the data key that should hold this value.")
            category, name = kind.split(KIND_SEPARATOR, 1)
            steps.append(FunnelStep(category, name, key, value if key else None))
        if len(steps) == 1:
            raise forms.ValidationError(f"A funnel needs {MIN_STEPS} steps or more.")
        cleaned["steps"] = steps
        return cleaned

    @property
    def steps(self) -> list[FunnelStep]:
        return self.cleaned_data.get("steps", []) if self.is_valid() else []

    @property
    def window_delta(self) -> timedelta:
        return timedelta(seconds=int(self.cleaned_data.get("window") or 86400))

    def step_rows(self) -> list[tuple[forms.BoundField, forms.BoundField, forms.BoundField]]:
        """The rows to show: every step given, and one more to add (up to ten)."""
        given = max((i for i in range(1, MAX_STEPS + 1) if self.data.get(f"step{i}")), default=0)
        shown = min(MAX_STEPS, max(MIN_STEPS + 1, given + 1))
        return [(self[f"step{i}"], self[f"key{i}"], self[f"value{i}"]) for i in range(1, shown + 1)]
