"""The audit log: every staff action on keys, retention, deletions and schemas."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from events.models import AuditEntry

# What the log says of actions taken with manage.py, where there is no user.
COMMAND_LINE = "command line"

Actor = AbstractBaseUser | AnonymousUser | None


def audit_record(
    *,
    actor: Actor,
    action: AuditEntry.Action,
    target: str,
    details: dict[str, Any] | None = None,
    system: str | None = None,
) -> AuditEntry:
    """`system` names what acted when no person did (the login throttle, say); without it
    an action without a user is one taken on the command line."""
    user = actor if actor is not None and actor.is_authenticated else None
    return AuditEntry.objects.create(
        actor=user,
        actor_name=user.get_username() if user is not None else (system or COMMAND_LINE),
        action=action,
        target=target[:255],
        details=details or {},
    )
