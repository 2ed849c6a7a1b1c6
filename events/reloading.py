"""Staff-made configuration that the ingest path reads on every request (event schemas,
retention rules), kept in each process for EYE_CONFIG_CACHE_SECONDS."""

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.conf import settings
from django.db import DatabaseError

T = TypeVar("T")


class ConfigUnavailable(Exception):
    """The configuration could not be read: the database is down and nothing is cached."""


class Reloading(Generic[T]):
    """A value loaded from the database, reloaded when older than EYE_CONFIG_CACHE_SECONDS.

    A change made through the services clears it in that process at once; the other
    processes see it within the cache time. While the database is down the last value
    stays in use, so that ingest goes on (the queue holds the events until it is back).
    """

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._value: T | None = None
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> T:
        value, loaded_at = self._value, self._loaded_at
        if value is not None and time.monotonic() - loaded_at < settings.EYE_CONFIG_CACHE_SECONDS:
            return value
        try:
            fresh = self._load()
        except DatabaseError:
            if value is None:
                raise ConfigUnavailable from None
            return value
        with self._lock:
            self._value, self._loaded_at = fresh, time.monotonic()
        return fresh

    def clear(self) -> None:
        with self._lock:
            self._value, self._loaded_at = None, float("-inf")
