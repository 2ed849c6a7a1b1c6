"""Forms of the Alerts page (staff) and of a user's digest subscription."""

import re
import urllib.parse
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from alerts.models import AlertRule, DigestSubscription
from alerts.webhook_addresses import literal_address_refusal
from dashboard.manage_forms import application_choice
from insights.models import Dashboard, Insight

MAX_EMAILS = 20
# Minutes of silence: up to a week; longer is better said with a daily count rule.
MAX_SILENCE_MINUTES = 7 * 24 * 60
# Days of a funnel's sessions: as far back as a funnel's own window reaches.
MAX_FUNNEL_DAYS = 90


class AlertRuleForm(forms.Form):
    name = forms.CharField(max_length=200, label="Name", help_text="What the message says.")
    kind = forms.ChoiceField(choices=AlertRule.Kind.choices, label="Watch")
    application = application_choice(required=False)
    category = forms.CharField(required=False, max_length=255, label="Category")
    event_name = forms.CharField(
        required=False, max_length=255, label="Name of the event", help_text="Empty for any."
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        label="Refusal reason",
        help_text="As the Errors page shows it; empty for every reason.",
    )
    period = forms.ChoiceField(choices=AlertRule.Period.choices, label="Per", initial="hour")
    insight = forms.ModelChoiceField(
        queryset=Insight.objects.filter(kind=Insight.Kind.FUNNEL),
        required=False,
        label="Saved funnel",
        empty_label="—",
    )
    days = forms.IntegerField(
        min_value=1,
        max_value=MAX_FUNNEL_DAYS,
        initial=7,
        required=False,
        label="Over the last (days)",
        help_text="Sessions that entered the funnel in these days.",
    )
    condition = forms.ChoiceField(choices=AlertRule.Condition.choices, label="When the count is")
    threshold = forms.FloatField(
        min_value=0,
        label="Threshold",
        help_text="A count; a percentage for a change against a week earlier or for a "
        "funnel's conversion; minutes for no events.",
    )
    emails = forms.CharField(
        required=False,
        label="E-mail to",
        help_text="Addresses separated by commas or spaces.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    webhook_url = forms.URLField(
        required=False,
        max_length=1000,
        assume_scheme="https",
        label="Webhook URL",
        help_text="Gets a signed JSON POST when the rule fires and when it resolves.",
    )
    webhook_format = forms.ChoiceField(
        choices=AlertRule.WebhookFormat.choices, label="Webhook body", initial="json"
    )
    new_secret = forms.BooleanField(
        required=False,
        label="Make a new signing secret",
        help_text="The old one stops being used at once.",
    )

    def __init__(self, *args: Any, rule: AlertRule | None = None, **kwargs: Any) -> None:
        if rule is not None:
            kwargs["initial"] = {
                **{name: getattr(rule, name) for name in self.base_fields if hasattr(rule, name)},
                "emails": ", ".join(rule.emails),
                "new_secret": False,
            }
        super().__init__(*args, **kwargs)
        self.rule = rule
        if rule is None:
            del self.fields["new_secret"]
        self.fields["category"].widget.attrs.update(list="category-list", autocomplete="off")
        self.fields["event_name"].widget.attrs.update(
            list="name-list", autocomplete="off", placeholder="any"
        )
        self.fields["reason"].widget.attrs.update(list="reason-list", autocomplete="off")
        self.fields["application"].empty_label = "All applications"
        self.fields["insight"].label_from_instance = lambda insight: insight.name

    def clean_emails(self) -> list[str]:
        addresses = [a for a in re.split(r"[\s,;]+", self.cleaned_data["emails"]) if a]
        if len(addresses) > MAX_EMAILS:
            raise ValidationError(f"At most {MAX_EMAILS} addresses.")
        check = EmailValidator()
        for address in addresses:
            try:
                check(address)
            except ValidationError:
                raise ValidationError(f"“{address}” is not an e-mail address.") from None
        return list(dict.fromkeys(addresses))

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url and not url.startswith(("http://", "https://")):
            raise ValidationError("A webhook is an http:// or https:// URL.")
        try:
            port = urllib.parse.urlsplit(url).port
        except ValueError:
            port = 0
        if url and port == 0:
            raise ValidationError("A webhook's port is a number from 1 to 65535.")
        refusal = literal_address_refusal(urllib.parse.urlsplit(url).hostname or "")
        if url and refusal is not None:
            raise ValidationError(f"A webhook may not reach {refusal}.")
        return url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        threshold = cleaned.get("threshold")
        if kind == AlertRule.Kind.EVENTS and not cleaned.get("category"):
            self.add_error("category", "Name the category of events to count.")
        if kind == AlertRule.Kind.SILENCE:
            if cleaned.get("application") is None:
                self.add_error("application", "Choose the application that must keep sending.")
            if threshold is not None and not 1 <= threshold <= MAX_SILENCE_MINUTES:
                self.add_error(
                    "threshold", f"Minutes without events: 1 to {MAX_SILENCE_MINUTES:,}."
                )
        if kind == AlertRule.Kind.FUNNEL:
            if cleaned.get("insight") is None:
                self.add_error("insight", "Choose the saved funnel to watch.")
            if cleaned.get("days") is None:
                self.add_error("days", f"Days of sessions: 1 to {MAX_FUNNEL_DAYS}.")
            if threshold is not None and threshold > 100:
                self.add_error("threshold", "A conversion is a percentage: 0 to 100.")
            # The application is the funnel's own.
            cleaned["application"] = None
        else:
            cleaned.update(insight=None, days=7)
        if kind != AlertRule.Kind.EVENTS:
            # Silence fires at no events, refusals above their threshold, a funnel below
            # its: what the form's count fields say does not apply.
            condition = "below" if kind == AlertRule.Kind.FUNNEL else "above"
            cleaned.update(category="", event_name="", period="hour", condition=condition)
        if kind != AlertRule.Kind.REFUSALS:
            cleaned["reason"] = ""
        if not cleaned.get("emails") and not cleaned.get("webhook_url") and "emails" in cleaned:
            raise ValidationError("Give an e-mail address or a webhook URL to notify.")
        return cleaned


class DigestForm(forms.Form):
    frequency = forms.ChoiceField(
        choices=[("", "No digest"), *DigestSubscription.Frequency.choices],
        required=False,
        label="Send me",
        widget=forms.RadioSelect,
    )
    application = application_choice(required=False)
    dashboard = forms.ModelChoiceField(
        queryset=Dashboard.objects.order_by("name", "id"),
        required=False,
        label="Numbers of",
        empty_label="The overview",
        help_text="A saved dashboard's insights, over the day or week, instead.",
    )
    # Kept on the user's account, whose column holds this much.
    email = forms.EmailField(
        label="To",
        max_length=User._meta.get_field("email").max_length,
        help_text="Your address; it is kept on your account.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        cleaned["frequency"] = cleaned.get("frequency") or None
        if cleaned.get("dashboard") is not None:
            # A dashboard's insights name their own applications.
            cleaned["application"] = None
        return cleaned
