"""Sending one notification, by e-mail or webhook, and recording what became of it.

Delivery runs in its own Huey task, never in the check: a receiver that hangs costs its
own task at most EYE_ALERT_WEBHOOK_TIMEOUT, and the check goes on for the other rules.
Each attempt first claims the notification with a conditional UPDATE, so that a task
queued twice (a retry and the check's sweep of overdue ones) sends it once.
"""

import hashlib
import hmac
import json
import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import F
from django.utils import timezone

from alerts.kinds import rule_describe, rule_kind
from alerts.models import AlertRule, Notification, plain_number
from alerts.webhooks import WebhookFailed, webhook_post

logger = logging.getLogger("eye.alerts")

SIGNATURE_HEADER = "X-Eye-Signature"
# A claimed attempt owns the notification for its timeout and this much more; a worker
# killed mid-send leaves it to the next check's sweep after that.
CLAIM_MARGIN = timedelta(seconds=60)
RESULT_CHARS = 500


class DeliveryError(Exception):
    """The receiver or mail server did not take the message; the text says why."""


def webhook_signature(*, secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the body>`: what a receiver recomputes with the secret
    it was shown, comparing in constant time."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def notification_link(rule: AlertRule) -> str:
    return f"{settings.EYE_PUBLIC_URL}{rule_kind(rule).chart_path(rule)}"


def notification_text(notification: Notification) -> str:
    rule = notification.rule
    head = "FIRING" if notification.event == Notification.Event.FIRED else "RESOLVED"
    value = "none" if notification.value is None else f"{notification.value:g}"
    return (
        f"[{head}] {rule.name}: {rule_describe(rule)}. "
        f"Value {value}, threshold {notification.threshold:g}. {notification_link(rule)}"
    )


def webhook_body(notification: Notification) -> bytes:
    rule = notification.rule
    if rule.webhook_format == AlertRule.WebhookFormat.SLACK:
        return json.dumps({"text": notification_text(notification)}).encode()
    return json.dumps(
        {
            "rule": {"id": rule.pk, "name": rule.name, "kind": rule.kind},
            "condition": rule_describe(rule),
            "event": notification.event,
            "incident": notification.incident,
            "value": notification.value_shown,
            "threshold": plain_number(notification.threshold),
            "at": notification.created_at.isoformat(),
            "link": notification_link(rule),
        }
    ).encode()


def _webhook_send(notification: Notification) -> str:
    body = webhook_body(notification)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "The Eye alerts",
        SIGNATURE_HEADER: webhook_signature(secret=notification.rule.webhook_secret, body=body),
    }
    try:
        status = webhook_post(
            notification.target,
            body=body,
            headers=headers,
            timeout=settings.EYE_ALERT_WEBHOOK_TIMEOUT,
        )
    except WebhookFailed as exc:
        raise DeliveryError(str(exc)) from None
    return f"HTTP {status}"


def _email_send(notification: Notification) -> str:
    rule = notification.rule
    head = "Firing" if notification.event == Notification.Event.FIRED else "Resolved"
    try:
        send_mail(
            subject=f"[The Eye] {head}: {rule.name}",
            message=notification_text(notification),
            from_email=None,
            recipient_list=[notification.target],
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"mail not taken: {exc}") from None
    return "accepted by the mail server"


@dataclass(frozen=True)
class Attempt:
    status: str
    # Seconds until the next attempt, when there is one.
    retry_in: float | None


def retry_delay(attempts: int) -> float:
    return settings.EYE_ALERT_RETRY_SECONDS * 2 ** (attempts - 1)


def notification_deliver(*, notification_id: int, now: datetime | None = None) -> Attempt | None:
    """Try to send one notification; None when there was nothing to do (sent already,
    given up on, or claimed by another attempt)."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.EYE_ALERT_WEBHOOK_TIMEOUT + settings.EMAIL_TIMEOUT)
    claimed = Notification.objects.filter(
        pk=notification_id, status=Notification.Status.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + lease + CLAIM_MARGIN)
    if not claimed:
        return None
    notification = Notification.objects.select_related(
        "rule", "rule__application", "rule__insight"
    ).get(pk=notification_id)
    send = _webhook_send if notification.channel == Notification.Channel.WEBHOOK else _email_send
    retry_in = None
    failure = None
    try:
        result = send(notification)
        status = Notification.Status.SENT
    except DeliveryError as exc:
        failure = str(exc)
    except Exception as exc:
        # A fault of ours, not the receiver's: logged, and a failed attempt like any
        # other, so that the notification ends after its attempts instead of being
        # claimed again for ever.
        logger.exception("notification %s could not be sent", notification_id)
        failure = f"could not be sent: {type(exc).__name__}"
    if failure is not None:
        result = f"attempt {notification.attempts}: {failure}"
        if notification.attempts >= settings.EYE_ALERT_DELIVERY_ATTEMPTS:
            status = Notification.Status.FAILED
        else:
            status = Notification.Status.PENDING
            retry_in = retry_delay(notification.attempts)
    finished = timezone.now()
    Notification.objects.filter(pk=notification_id).update(
        status=status,
        result=result[:RESULT_CHARS],
        delivered_at=finished if status == Notification.Status.SENT else None,
        next_attempt_at=finished + timedelta(seconds=retry_in or 0),
    )
    return Attempt(status, retry_in)
