"""The POST forms that save insights and dashboards."""

from typing import Any

from django import forms

from insights.models import Insight


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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Dashboards are the only pages that list saved insights: one saved onto none
        # would be kept where nobody could open, rename or delete it.
        if cleaned.get("dashboard") is None and not cleaned.get("new_dashboard"):
            self.add_error("dashboard", "Choose a dashboard, or name a new one.")
        return cleaned


class NamedForm(forms.Form):
    """Name and description: what an insight's or a dashboard's edit form changes."""

    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(
        required=False,
        max_length=2000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
