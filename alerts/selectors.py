"""Reads for the Alerts page: the rules with their condition in words and a sparkline of
what they watch, and the history of notifications."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from alerts.kinds import rule_describe, rule_kind
from alerts.models import AlertRule, Notification
from events.models import Refusal

HISTORY_ROWS = 50


@dataclass(frozen=True)
class RuleRow:
    rule: AlertRule
    condition: str
    sparkline: list[float]
    chart_path: str


def alert_rule_rows(*, now: datetime) -> list[RuleRow]:
    rows = []
    for rule in AlertRule.objects.select_related("application", "insight"):
        kind = rule_kind(rule)
        rows.append(
            RuleRow(rule, rule_describe(rule), kind.sparkline(rule, now=now), kind.chart_path(rule))
        )
    return rows


def notification_history(*, rule: AlertRule | None = None) -> QuerySet[Notification]:
    notifications = Notification.objects.select_related("rule")
    if rule is not None:
        notifications = notifications.filter(rule=rule)
    return notifications[:HISTORY_ROWS]


def refusal_reason_suggestions(*, limit: int = 200) -> list[str]:
    """Reasons of the newest refusals, to offer when a rule watches one."""
    reasons: set[str] = set()
    for refusal in Refusal.objects.order_by("-created_at")[:limit]:
        reasons.update(refusal.reasons)
    return sorted(reasons)
