"""Forms of the insight pages: the funnel builder (GET, every setting in the URL), the
breakdown key, and the POST forms that save insights and dashboards."""

from datetime import timedelta
from typing import Any

from django import forms
from django.http import QueryDict

from dashboard.forms import RangeForm
from events.funnels import MAX_STEPS, MIN_STEPS, FunnelStep
from insights.models import Insight

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


class FunnelForm(RangeForm):
    """A funnel: range, app, window, and steps `step1` … `step10`, each a kind picked from
    those stored, with an optional data condition `key1`=`value1`."""

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


class InsightSaveForm(forms.Form):
    kind = forms.ChoiceField(choices=Insight.Kind.choices, widget=forms.HiddenInput)
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(
        required=False,
        max_length=2000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    # An existing dashboard, or a new one by this name.
    dashboard = forms.IntegerField(required=False, label="Dashboard")
    new_dashboard = forms.CharField(required=False, max_length=200, label="Or a new dashboard")


class NamedForm(forms.Form):
    """Name and description: what an insight's or a dashboard's edit form changes."""

    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(
        required=False,
        max_length=2000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
