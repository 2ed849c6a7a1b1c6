"""Writes of the alerts app: rules made, changed, muted and removed (each in the audit log),
and the check that moves a rule between ok and firing and records what is to be sent."""

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from alerts.kinds import KINDS, RuleUncheckable, rule_describe, rule_kind
from alerts.models import AlertRule, Notification
from events.audit import Actor, audit_record
from events.models import AuditEntry

logger = logging.getLogger("eye.alerts")

# A pending notification whose next attempt is this late was lost between the database
# and the queue (a worker killed after its commit); the next check queues it again.
OVERDUE = timedelta(minutes=2)

# The rules that read raw events (funnels) cost more as the events grow, and there may be
# many: together they take at most this share of one worker's time (alert_rules_due).
RAW_RULES_SHARE = 0.1

# What staff set on a rule; everything else on the row is the check's.
RULE_FIELDS = (
    "name",
    "kind",
    "application",
    "category",
    "event_name",
    "reason",
    "period",
    "condition",
    "threshold",
    "insight",
    "days",
    "emails",
    "webhook_url",
    "webhook_format",
)


def _audit_details(rule: AlertRule) -> dict[str, Any]:
    return {
        "rule": rule_describe(rule),
        "emails": rule.emails,
        "webhook": rule.webhook_url or None,
        "muted": rule.muted,
    }


@dataclass(frozen=True)
class SavedRule:
    rule: AlertRule
    # A webhook secret made by this save, to show once; None when none was made.
    new_secret: str | None


@transaction.atomic
def alert_rule_save(
    *,
    rule: AlertRule | None,
    values: dict[str, Any],
    new_secret: bool = False,
    actor: Actor = None,
) -> SavedRule:
    """Create a rule (rule=None) or change one. A webhook gets a signing secret when it is
    first set, or when `new_secret` asks for a fresh one."""
    created = rule is None
    rule = rule or AlertRule(created_by=actor if actor and actor.is_authenticated else None)
    for name in RULE_FIELDS:
        setattr(rule, name, values.get(name, getattr(rule, name)))
    secret = None
    if rule.webhook_url and (new_secret or not rule.webhook_secret):
        secret = rule.webhook_secret = secrets.token_hex(32)
    if not rule.webhook_url:
        rule.webhook_secret = ""
    if created:
        rule.save()
    else:
        # Only what staff set: a check that ended since this rule was read keeps what it
        # found (state, incident, last value, its cost).
        rule.save(update_fields=[*RULE_FIELDS, "webhook_secret", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ALERT_CREATED if created else AuditEntry.Action.ALERT_CHANGED,
        target=f"alert {rule.name}",
        details={**_audit_details(rule), "new_secret": secret is not None},
    )
    return SavedRule(rule, secret)


@transaction.atomic
def alert_rule_mute(*, rule: AlertRule, muted: bool, actor: Actor = None) -> AlertRule:
    """A muted rule is still checked (its state stays true), but sends nothing."""
    AlertRule.objects.filter(pk=rule.pk).update(muted=muted)
    rule.muted = muted
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ALERT_MUTED if muted else AuditEntry.Action.ALERT_UNMUTED,
        target=f"alert {rule.name}",
        details=_audit_details(rule),
    )
    return rule


@transaction.atomic
def alert_rule_remove(*, rule: AlertRule, actor: Actor = None) -> None:
    audit_record(
        actor=actor,
        action=AuditEntry.Action.ALERT_REMOVED,
        target=f"alert {rule.name}",
        details=_audit_details(rule),
    )
    rule.delete()


def _notifications_create(
    *, rule: AlertRule, event: Notification.Event, value: float | None
) -> list[int]:
    # Stamped with the clock, not the instant checked: delivery and history run on it.
    created_at = timezone.now()
    targets = [(Notification.Channel.EMAIL, address) for address in rule.emails]
    if rule.webhook_url:
        targets.append((Notification.Channel.WEBHOOK, rule.webhook_url))
    created = []
    for channel, target in targets:
        notification, new = Notification.objects.get_or_create(
            rule=rule,
            incident=rule.incident,
            event=event,
            channel=channel,
            target=target,
            defaults={
                "value": value,
                "threshold": rule.threshold,
                "created_at": created_at,
                "next_attempt_at": created_at,
            },
        )
        if new:
            created.append(notification.pk)
    return created


def _turn_has_come(rule: AlertRule, *, now: datetime, spacing: timedelta) -> bool:
    """Whether a rule that reads raw events is due at `now` (alert_rules_due says when)."""
    checked = rule.last_checked_at
    if checked is None or rule.updated_at > checked:
        return True
    return not checked <= now < checked + spacing


def raw_rules_spacing() -> timedelta:
    """How long each rule that reads raw events waits after its check: the last
    measurements of all of them together, divided by RAW_RULES_SHARE."""
    seconds = sum(
        rule.check_seconds or 0.0
        for rule in AlertRule.objects.only("kind", "check_seconds")
        if KINDS[rule.kind].reads_raw_events
    )
    return timedelta(seconds=seconds / RAW_RULES_SHARE)


def alert_rule_evaluate(*, rule_id: int, now: datetime) -> list[int]:
    """Check one rule at `now`; returns the notifications to deliver (committed).

    The rule's row is locked for the check, and a rule another check holds is skipped
    (SKIP LOCKED): it is being checked at this very moment. A check that comes after
    finds the state the first one left, so an incident starts (and ends) once however
    many workers check. A worker killed mid-check rolls back its transaction: nothing
    was sent, and the next check does it again. A rule that reads raw events whose turn
    has not come by the row it locked (another worker's round has just measured it) is
    passed by, so that rounds queued by several workers measure it once.
    """
    with transaction.atomic():
        rule = (
            AlertRule.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("application", "insight")
            .filter(pk=rule_id)
            .first()
        )
        if rule is None:
            return []
        kind = rule_kind(rule)
        if kind.reads_raw_events and not _turn_has_come(rule, now=now, spacing=raw_rules_spacing()):
            return []
        started = time.monotonic()
        measure = kind.measure(rule, now=now)
        rule.check_seconds = time.monotonic() - started
        if measure.sparkline is not None:
            rule.sparkline_kept = measure.sparkline
        holds = kind.holds(rule, measure.value)
        event = None
        if holds and rule.state == AlertRule.State.OK:
            rule.state, rule.firing_since, event = AlertRule.State.FIRING, now, "fired"
            rule.incident += 1
        elif not holds and rule.state == AlertRule.State.FIRING:
            rule.state, rule.firing_since, event = AlertRule.State.OK, None, "resolved"
        rule.last_value, rule.last_checked_at, rule.last_error = measure.value, now, ""
        rule.save(
            update_fields=[
                "state",
                "firing_since",
                "incident",
                "last_value",
                "last_checked_at",
                "last_error",
                "check_seconds",
                "sparkline_kept",
            ]
        )
        if event is None or rule.muted:
            return []
        logger.info("alert %s %s (value %s)", rule.name, event, measure.value)
        return _notifications_create(
            rule=rule, event=Notification.Event(event), value=measure.value
        )


@dataclass
class CheckOutcome:
    checked: int = 0
    failed: int = 0
    # Notifications to hand to the delivery task: new ones, and any left behind.
    due: list[int] = field(default_factory=list)


def alert_rules_due(*, now: datetime) -> list[int]:
    """The rules to check at `now`, in the order to check them: every rule that reads
    rollups, at every check; then the rules that read raw events whose turn has come, the
    longest unchecked first, so that a slow funnel never holds up a silence rule.

    Such a rule's turn comes again raw_rules_spacing() after its last check: they take at
    most RAW_RULES_SHARE of a worker's time however many staff make and however many events
    they read. A rule never checked, or changed since its last check, is checked at once;
    so is one whose last check is in the future (another worker's clock)."""
    spacing = raw_rules_spacing()
    rules = list(AlertRule.objects.order_by("pk").only("kind", "last_checked_at", "updated_at"))
    from_rollups = [rule.pk for rule in rules if not KINDS[rule.kind].reads_raw_events]
    waiting = sorted(
        (
            rule
            for rule in rules
            if KINDS[rule.kind].reads_raw_events and _turn_has_come(rule, now=now, spacing=spacing)
        ),
        key=lambda rule: (rule.last_checked_at is not None, rule.last_checked_at or now, rule.pk),
    )
    return from_rollups + [rule.pk for rule in waiting]


def alert_rules_check(*, now: datetime) -> CheckOutcome:
    """Check every rule that is due (alert_rules_due). A rule whose check fails is logged
    and marked with the error; the others are checked all the same."""
    outcome = CheckOutcome()
    for rule_id in alert_rules_due(now=now):
        started = time.monotonic()
        try:
            outcome.due += alert_rule_evaluate(rule_id=rule_id, now=now)
            outcome.checked += 1
        except Exception as exc:
            outcome.failed += 1
            if isinstance(exc, RuleUncheckable):
                logger.warning("alert rule %s cannot be checked: %s", rule_id, exc)
            else:
                logger.exception("alert rule %s could not be checked", rule_id)
            try:
                AlertRule.objects.filter(pk=rule_id).update(
                    last_error=f"{exc.__class__.__name__}: {exc}"[:1000],
                    last_checked_at=now,
                    check_seconds=time.monotonic() - started,
                    sparkline_kept=[],
                )
            except DatabaseError:
                logger.warning("alert rule %s: its error could not be recorded", rule_id)
    outcome.due += list(
        Notification.objects.filter(
            status=Notification.Status.PENDING, next_attempt_at__lt=timezone.now() - OVERDUE
        )
        .exclude(pk__in=outcome.due)
        .values_list("pk", flat=True)
    )
    return outcome


def notifications_prune(*, now: datetime) -> int:
    """Remove the notifications older than EYE_NOTIFICATION_DAYS, whatever became of
    them, so that the history stays bounded; returns how many went. A rule's state lives
    in its own row, so an incident whose notice is removed still fires and resolves once."""
    cutoff = now - timedelta(days=settings.EYE_NOTIFICATION_DAYS)
    removed, _ = Notification.objects.filter(created_at__lt=cutoff).delete()
    if removed:
        logger.info("removed %d notifications older than %s", removed, cutoff)
    return removed
