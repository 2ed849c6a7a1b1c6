"""The POST forms that save insights and dashboards."""

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


class NamedForm(forms.Form):
    """Name and description: what an insight's or a dashboard's edit form changes."""

    name = forms.CharField(max_length=200, label="Name")
    description = forms.CharField(
        required=False,
        max_length=2000,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
