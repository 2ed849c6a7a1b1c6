"""Alert rules, the notifications they sent, and digest subscriptions.

A rule's state (ok or firing, and the number of its current incident) lives in its row,
so that whatever the number of workers checking, one incident is one transition and so
one set of notifications; a notification's uniqueness per incident is also a database
constraint, so that not even a bug in the check could send one twice.
"""

from django.conf import settings
from django.db import models

from events.models import Application
from insights.models import Dashboard, Insight


def plain_number(value: float | None) -> float | int | None:
    """Counts are whole: 3, not 3.0, on the page and in a webhook's JSON."""
    return int(value) if value is not None and float(value).is_integer() else value


class AlertRule(models.Model):
    class Kind(models.TextChoices):
        # The count of one kind of event over the last hour or day.
        EVENTS = "events", "event count"
        # No events at all from an application for `threshold` minutes.
        SILENCE = "silence", "no events"
        # Refused requests over the last hour, optionally for one reason.
        REFUSALS = "refusals", "refused requests"
        # The conversion (percent) of a saved funnel over its sessions of the last `days` days.
        FUNNEL = "funnel", "funnel conversion"

    class Condition(models.TextChoices):
        ABOVE = "above"
        BELOW = "below"
        # The count changed by more than `threshold` percent, up or down, against the same
        # window a week earlier.
        CHANGE = "change", "changed by more than"

    class Period(models.TextChoices):
        HOUR = "hour"
        DAY = "day"

    class State(models.TextChoices):
        OK = "ok"
        FIRING = "firing"

    class WebhookFormat(models.TextChoices):
        JSON = "json", "JSON"
        SLACK = "slack", 'Slack-compatible ({"text": …})'

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(max_length=255, blank=True)
    event_name = models.CharField(max_length=255, blank=True)
    # A refusal reason as the Errors page spells it ("timestamp: is in the future").
    reason = models.CharField(max_length=500, blank=True)
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.HOUR)
    # Kind "funnel": the saved funnel and how many days back its sessions are read. Deleting
    # the funnel leaves the rule (and its audit trail), whose check then says what is missing.
    insight = models.ForeignKey(
        Insight, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    days = models.PositiveSmallIntegerField(default=7)
    condition = models.CharField(max_length=8, choices=Condition.choices, default=Condition.ABOVE)
    # A count, a percentage (condition "change", kind "funnel") or minutes (kind "silence").
    threshold = models.FloatField()

    emails = models.JSONField(default=list, blank=True)
    webhook_url = models.URLField(max_length=1000, blank=True)
    webhook_format = models.CharField(
        max_length=8, choices=WebhookFormat.choices, default=WebhookFormat.JSON
    )
    # Kept to sign each request; the dashboard shows it once, when it is made.
    webhook_secret = models.CharField(max_length=64, blank=True)

    muted = models.BooleanField(default=False)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OK)
    firing_since = models.DateTimeField(null=True, blank=True)
    # Counts the rule's incidents; the current (or last) one's notifications carry it.
    incident = models.PositiveIntegerField(default=0)
    last_value = models.FloatField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # How long the last check's measurement took: the rules that read raw events are
    # spaced by it (alerts/services.py alert_rules_due).
    check_seconds = models.FloatField(null=True, blank=True)
    # The sparkline of a kind too costly to draw at every view of the Alerts page (a
    # funnel's), as the last check drew it.
    sparkline_kept = models.JSONField(default=list, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="silence") | models.Q(application__isnull=False),
                name="alert_silence_has_application",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="events") | ~models.Q(category=""),
                name="alert_events_has_category",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def last_value_shown(self) -> float | int | None:
        return plain_number(self.last_value)


class Notification(models.Model):
    """One message about one incident of a rule, to one address or webhook, and what
    became of it."""

    class Event(models.TextChoices):
        FIRED = "fired"
        RESOLVED = "resolved"

    class Channel(models.TextChoices):
        EMAIL = "email", "e-mail"
        WEBHOOK = "webhook"

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="notifications")
    incident = models.PositiveIntegerField()
    event = models.CharField(max_length=8, choices=Event.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    target = models.CharField(max_length=1000)
    value = models.FloatField(null=True)
    threshold = models.FloatField()
    created_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the next attempt may start: a claim by one worker pushes it past that
    # attempt's timeout, so that no other worker sends the same message meanwhile.
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The receiver's HTTP status, or the SMTP server's answer, or why it failed.
    result = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "incident", "event", "channel", "target"],
                name="notification_once_per_incident",
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.event} #{self.incident} by {self.channel} to {self.target}"

    @property
    def value_shown(self) -> float | int | None:
        return plain_number(self.value)


class DigestSubscription(models.Model):
    """A user who asked for the overview's numbers, or those of one saved dashboard, by
    e-mail, every day or every week."""

    class Frequency(models.TextChoices):
        DAILY = "daily"
        WEEKLY = "weekly"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest"
    )
    frequency = models.CharField(max_length=8, choices=Frequency.choices)
    application = models.ForeignKey(
        Application, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # None for the overview; deleting the dashboard turns the digest back to the overview.
    dashboard = models.ForeignKey(
        Dashboard, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The end of the last period sent: a period is claimed by moving this forward, in one
    # conditional UPDATE, so that two workers never send the same digest.
    last_period_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.frequency} digest for {self.user}"
