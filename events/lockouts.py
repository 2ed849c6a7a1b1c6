"""Login lockouts: who is locked out of the dashboard, lifting a lockout, and the audit
entries of both.

django-axes counts failed logins and refuses logins past EYE_LOGIN_FAILURE_LIMIT, per user
name and, separately, per address (AXES_LOCKOUT_PARAMETERS in eye/settings.py). This module
reads its records the way it counts them, so that the Admin page shows exactly what axes
enforces, and lifts a lockout through axes' own reset.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from axes.utils import reset
from django.conf import settings
from django.db.models import Max, Sum
from django.dispatch import receiver
from django.utils import timezone

from events.audit import Actor, audit_record
from events.models import AuditEntry

LockoutKind = Literal["user", "address"]
# Who the audit log says acted when a login is locked out.
LOGIN_THROTTLE = "login throttle"
_COLUMN: dict[LockoutKind, str] = {"user": "username", "address": "ip_address"}


@dataclass(frozen=True)
class Lockout:
    kind: LockoutKind
    value: str
    failures: int
    last_failure: datetime

    @property
    def until(self) -> datetime:
        return self.last_failure + settings.AXES_COOLOFF_TIME

    @property
    def locked(self) -> bool:
        return self.failures >= settings.AXES_FAILURE_LIMIT


def lockout_list() -> list[Lockout]:
    """User names and addresses with failed logins that still count, most failures first;
    `locked` says which of them axes refuses now."""
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AccessAttempt.objects.filter(attempt_time__gte=since)
    found: list[Lockout] = []
    for kind, column in _COLUMN.items():
        rows = (
            recent.exclude(**{f"{column}__isnull": True})
            .values(column)
            .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        )
        found += [
            Lockout(
                kind=kind, value=row[column], failures=row["failures"], last_failure=row["last"]
            )
            for row in rows
            if row["failures"]
        ]
    return sorted(found, key=lambda lockout: (-lockout.failures, lockout.kind, lockout.value))


def lockout_clear(*, kind: LockoutKind, value: str, actor: Actor) -> int:
    """Forget the failed logins of a user name or an address, which lifts its lockout;
    returns how many axes records went."""
    removed = reset(username=value) if kind == "user" else reset(ip=value)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.LOGIN_UNLOCKED,
        target=f"{kind} {value}",
        details={"kind": kind, "value": value, "records_removed": removed},
    )
    return removed


@receiver(user_locked_out, dispatch_uid="events.lockouts.audit_lockout")
def audit_lockout(*, username: str | None, ip_address: str | None, **kwargs: Any) -> None:
    """Record a lockout in the audit log once while it lasts: axes signals every refused
    attempt, and an attacker's thousands must not fill the log."""
    target = f"user {username or '?'} from {ip_address or '?'}"
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    if AuditEntry.objects.filter(
        action=AuditEntry.Action.LOGIN_LOCKED_OUT, target=target[:255], created_at__gte=since
    ).exists():
        return
    audit_record(
        actor=None,
        system=LOGIN_THROTTLE,
        action=AuditEntry.Action.LOGIN_LOCKED_OUT,
        target=target,
        details={
            "username": username,
            "ip_address": ip_address,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
    )
