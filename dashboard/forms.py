"""GET filter forms of the pages that save no insight (Live, Sessions, Errors), on the
range and event filters that insights.forms owns."""

from django import forms

from insights.forms import EventFilterForm, RangeForm


class LiveForm(EventFilterForm):
    app = RangeForm.base_fields["app"]

    field_order = ["session", "category", "name", "app", "key", "value"]


class SessionsForm(RangeForm):
    order = forms.ChoiceField(
        choices=[("recent", "Most recent"), ("events", "Most events")],
        required=False,
        label="Order",
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1000, widget=forms.HiddenInput)


class ErrorsForm(RangeForm):
    page = forms.IntegerField(required=False, min_value=1, max_value=1000, widget=forms.HiddenInput)
