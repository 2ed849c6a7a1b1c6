"""Application keys: issue, revoke, and look up by the secret a client presents."""

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from events.models import ApiKey, Application

KEY_PREFIX = "eye_"


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


def key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_create(
    *,
    application: Application,
    can_read: bool,
    can_write: bool,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key; returns the stored key and the secret, which is never stored."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        application=application,
        prefix=raw_key[:12],
        key_hash=key_hash(raw_key),
        can_read=can_read,
        can_write=can_write,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    _cache.forget(api_key.key_hash)


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
        )
    _cache.put(digest, principal)
    return principal
