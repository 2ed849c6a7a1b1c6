"""Application keys: issue, revoke, and look up by the secret a client presents."""

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from events.audit import Actor, audit_record
from events.models import ApiKey, Application, AuditEntry

KEY_PREFIX = "eye_"
PUBLISHABLE_KEY_PREFIX = "eye_pk_"


class KeyCheckUnavailable(Exception):
    """The key could not be checked: the database is unreachable and the key not cached."""


@dataclass(frozen=True)
class KeyPrincipal:
    """What a request knows about the key it came with. Plain values, safe to cache."""

    key_id: int
    application_id: int
    application_name: str
    can_read: bool
    can_write: bool
    rate_limit_per_minute: int | None
    # The allowed origins of a publishable key; None for a secret key.
    origins: tuple[str, ...] | None = None

    @property
    def publishable(self) -> bool:
        return self.origins is not None

    can_read_all_applications: bool = False

    @property
    def read_application_id(self) -> int | None:
        """The application whose events this key reads; None for every application."""
        return None if self.can_read_all_applications else self.application_id


# How much of a key is kept in the clear, to name it (`eye_AbC12345…`).
PREFIX_LENGTH = 12


def key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


# ApiKey.rate_limit_per_minute is an integer column; no client sends more than this.
MAX_RATE_LIMIT = 1_000_000


def application_name_problem(name: str) -> str | None:
    """Why `name`, once trimmed, cannot name an application, or None when it can."""
    name = name.strip()
    if not name:
        return "must not be empty"
    limit = Application._meta.get_field("name").max_length
    if len(name) > limit:
        return f"must be at most {limit} characters"
    return None


def application_create(*, name: str, actor: Actor = None) -> Application:
    application = Application.objects.create(name=name.strip())
    audit_record(actor=actor, action=AuditEntry.Action.APPLICATION_CREATED, target=application.name)
    return application


def _rights_check(*, can_read: bool, can_read_all_applications: bool) -> None:
    if can_read_all_applications and not can_read:
        raise ValueError("reading every application needs the read right")


def _key_details(api_key: ApiKey) -> dict:
    details = {
        "key": f"{api_key.prefix}…",
        "rights": api_key.rights,
        "rate_limit_per_minute": api_key.rate_limit_per_minute,
    }
    if api_key.is_publishable:
        details["origins"] = api_key.origins
    return details


@transaction.atomic
def api_key_create(
    *,
    application: Application,
    can_read: bool,
    can_write: bool,
    rate_limit_per_minute: int | None = None,
    origins: list[str] | None = None,
    can_read_all_applications: bool = False,
    actor: Actor = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns the stored key and the secret, which is never stored.

    With `origins` (canonical, see events.origins) the key is publishable: write only,
    whatever the rights asked, and kept in clear since it is public by design.
    """
    publishable = origins is not None
    if publishable and can_read_all_applications:
        raise ValueError("a publishable key is public and can never read")
    _rights_check(can_read=can_read, can_read_all_applications=can_read_all_applications)
    raw_key = (PUBLISHABLE_KEY_PREFIX if publishable else KEY_PREFIX) + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        application=application,
        prefix=raw_key[:PREFIX_LENGTH],
        key_hash=key_hash(raw_key),
        can_read=can_read and not publishable,
        can_write=can_write or publishable,
        rate_limit_per_minute=rate_limit_per_minute,
        kind=ApiKey.Kind.PUBLISHABLE if publishable else ApiKey.Kind.SECRET,
        origins=origins or [],
        public_key=raw_key if publishable else "",
        can_read_all_applications=can_read_all_applications,
    )
    audit_record(
        actor=actor,
        action=AuditEntry.Action.KEY_ISSUED,
        target=application.name,
        details=_key_details(api_key),
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor = None) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action=AuditEntry.Action.KEY_REVOKED,
            target=api_key.application.name,
            details=_key_details(api_key),
        )
    _cache.forget(api_key.key_hash)


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey, actor: Actor = None) -> tuple[ApiKey, str]:
    """Replace a key by a new one with the same rights and limit; the old one stops at once.

    Returns the new key and its secret, shown once like any new key's.
    """
    if api_key.revoked_at is not None:
        raise ValueError("a revoked key cannot be rotated; issue a new one")
    new_key, raw_key = api_key_create(
        application=api_key.application,
        can_read=api_key.can_read,
        can_write=api_key.can_write,
        rate_limit_per_minute=api_key.rate_limit_per_minute,
        origins=api_key.origins if api_key.is_publishable else None,
        can_read_all_applications=api_key.can_read_all_applications,
        actor=actor,
    )
    api_key_revoke(api_key=api_key, actor=actor)
    audit_record(
        actor=actor,
        action=AuditEntry.Action.KEY_ROTATED,
        target=api_key.application.name,
        details={"old_key": f"{api_key.prefix}…", "new_key": f"{new_key.prefix}…"},
    )
    return new_key, raw_key


@transaction.atomic
def api_key_update(
    *,
    api_key: ApiKey,
    can_read: bool,
    can_write: bool,
    rate_limit_per_minute: int | None,
    can_read_all_applications: bool = False,
    actor: Actor = None,
) -> ApiKey:
    """Change a key's rights or rate limit. Other web processes see the change within
    EYE_KEY_CACHE_SECONDS, this one at once."""
    if api_key.is_publishable and (can_read or can_read_all_applications):
        raise ValueError("a publishable key is public and can never read")
    _rights_check(can_read=can_read, can_read_all_applications=can_read_all_applications)
    before = _key_details(api_key)
    api_key.can_read = can_read
    api_key.can_read_all_applications = can_read_all_applications
    api_key.can_write = can_write
    api_key.rate_limit_per_minute = rate_limit_per_minute
    api_key.save(
        update_fields=[
            "can_read",
            "can_write",
            "rate_limit_per_minute",
            "can_read_all_applications",
        ]
    )
    _key_change_finish(api_key=api_key, before=before, actor=actor)
    return api_key


def _key_change_finish(*, api_key: ApiKey, before: dict, actor: Actor) -> None:
    """Audit what a change did to a key (if anything) and drop this process's cached
    lookup of it; the other processes follow within EYE_KEY_CACHE_SECONDS."""
    after = _key_details(api_key)
    if after != before:
        audit_record(
            actor=actor,
            action=AuditEntry.Action.KEY_CHANGED,
            target=api_key.application.name,
            details={"before": before, "after": after},
        )
    _cache.forget(api_key.key_hash)


@transaction.atomic
def api_key_origins_update(*, api_key: ApiKey, origins: list[str], actor: Actor = None) -> ApiKey:
    """Change where a publishable key may be used from (canonical origins, see
    events.origins). Like a rights change, other processes see it within
    EYE_KEY_CACHE_SECONDS."""
    if not api_key.is_publishable:
        raise ValueError("only a publishable key has allowed origins")
    before = _key_details(api_key)
    api_key.origins = origins
    api_key.save(update_fields=["origins"])
    _key_change_finish(api_key=api_key, before=before, actor=actor)
    return api_key


class _KeyCache:
    """Per-process cache of key lookups, hits and misses alike.

    Every ingest request authenticates, so a database round trip per request would cost
    more than the rest of the request. Entries live EYE_KEY_CACHE_SECONDS; a revocation
    clears its entry in this process at once.
    """

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, KeyPrincipal | None]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, *, stale_ok: bool = False) -> tuple[bool, KeyPrincipal | None]:
        entry = self._entries.get(digest)
        if entry is None or (entry[0] < time.monotonic() and not stale_ok):
            return False, None
        return True, entry[1]

    def put(self, digest: str, principal: KeyPrincipal | None) -> None:
        with self._lock:
            # Bounded so that a client cycling random keys cannot grow memory.
            if len(self._entries) >= 10_000:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + settings.EYE_KEY_CACHE_SECONDS, principal)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _KeyCache()


def key_cache_clear() -> None:
    _cache.clear()


def key_principal_get(*, raw_key: str) -> KeyPrincipal | None:
    """The live key behind a presented secret, or None."""
    digest = key_hash(raw_key)
    found, principal = _cache.get(digest)
    if found:
        return principal
    try:
        api_key = (
            ApiKey.objects.select_related("application")
            .filter(key_hash=digest, revoked_at__isnull=True)
            .first()
        )
    except DatabaseError:
        # The database is down or restarting. Ingest must go on (the queue holds the
        # events until it is back), so a key this process knew stays good meanwhile; one
        # it never saw cannot be checked, and the caller answers 503.
        found, principal = _cache.get(digest, stale_ok=True)
        if found:
            return principal
        raise KeyCheckUnavailable from None
    principal = None
    if api_key is not None:
        principal = KeyPrincipal(
            key_id=api_key.pk,
            application_id=api_key.application_id,
            application_name=api_key.application.name,
            can_read=api_key.can_read,
            can_write=api_key.can_write,
            rate_limit_per_minute=api_key.rate_limit_per_minute,
            origins=tuple(api_key.origins) if api_key.is_publishable else None,
            can_read_all_applications=api_key.can_read_all_applications,
        )
    _cache.put(digest, principal)
    return principal
