"""Django's cache API over one SQLite file: the shared cache of a self-contained run.

With nothing configured, The Eye's web processes and its worker share a cache without a
Redis: the clock pins of browser events (api/browser.py), the rate limits' counters and
the kept dashboards. Django's own backends do not fit it. The file cache keeps 300
entries, drops a random third past them (every browser event pins one) and its `add` is
not atomic across processes; the local-memory cache is not shared; the database cache
counts its whole table on every write. Here `add` and `incr` are single statements, so
atomic across processes (SQLite locks the file for each write), expired rows are swept
now and then, and past MAX_ENTRIES the rows closest to expiring go first.

Values are pickled, as by every Django cache backend; integers are stored as SQLite
integers, so that `incr` adds in place. The file lives in the run's data directory,
which only its owner can write.
"""

import os
import pickle
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

# Expired rows are swept, and the table trimmed, once every this many writes.
SWEEP_EVERY = 1000
# IN lists are cut to this many keys: SQLite allows 32,766 parameters a statement.
MANY = 500

SCHEMA = """
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    expires REAL
) WITHOUT ROWID
"""
# A row is alive while it has no expiry or its expiry is ahead.
ALIVE = "(expires IS NULL OR expires > ?)"


def _stored(value: Any) -> int | bytes:
    return value if type(value) is int else pickle.dumps(value, pickle.HIGHEST_PROTOCOL)


def _loaded(value: int | bytes) -> Any:
    return value if isinstance(value, int) else pickle.loads(value)


class SqliteCache(BaseCache):
    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._path = Path(location)
        self._local = threading.local()
        self._writes = 0

    def _db(self) -> sqlite3.Connection:
        # A connection per thread, and a new one in a forked child (gunicorn's workers).
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self._path, timeout=10, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(SCHEMA)
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _written(self) -> None:
        self._writes += 1
        if self._writes % SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        db = self._db()
        db.execute("DELETE FROM cache WHERE expires <= ?", [time.time()])
        (count,) = db.execute("SELECT count(*) FROM cache").fetchone()
        if count > self._max_entries:
            # Those closest to expiring first, those without an expiry last.
            db.execute(
                "DELETE FROM cache WHERE key IN (SELECT key FROM cache "
                "ORDER BY expires IS NULL, expires LIMIT ?)",
                [count - self._max_entries + self._max_entries // self._cull_frequency],
            )

    def add(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        expires = self.get_backend_timeout(timeout)
        # One statement: an expired row is taken over, a live one is left as it is.
        cursor = self._db().execute(
            "INSERT INTO cache (key, value, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
            "WHERE cache.expires IS NOT NULL AND cache.expires <= ?",
            [key, _stored(value), expires, time.time()],
        )
        self._written()
        return cursor.rowcount == 1

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._db()
            .execute(f"SELECT value FROM cache WHERE key = ? AND {ALIVE}", [key, time.time()])
            .fetchone()
        )
        return default if row is None else _loaded(row[0])

    def get_many(self, keys: Iterable[str], version: int | None = None) -> dict[str, Any]:
        names = {self.make_and_validate_key(key, version=version): key for key in keys}
        found: dict[str, Any] = {}
        listed = list(names)
        for start in range(0, len(listed), MANY):
            part = listed[start : start + MANY]
            rows = self._db().execute(
                f"SELECT key, value FROM cache WHERE key IN ({','.join('?' * len(part))}) "
                f"AND {ALIVE}",
                [*part, time.time()],
            )
            found.update({names[name]: _loaded(value) for name, value in rows})
        return found

    def set(
        self,
        key: str,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._db().execute(
            "INSERT OR REPLACE INTO cache (key, value, expires) VALUES (?, ?, ?)",
            [key, _stored(value), self.get_backend_timeout(timeout)],
        )
        self._written()

    def touch(
        self, key: str, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        cursor = self._db().execute(
            f"UPDATE cache SET expires = ? WHERE key = ? AND {ALIVE}",
            [self.get_backend_timeout(timeout), key, time.time()],
        )
        return cursor.rowcount == 1

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        name = self.make_and_validate_key(key, version=version)
        row = (
            self._db()
            .execute(
                f"UPDATE cache SET value = value + ? WHERE key = ? AND typeof(value) = 'integer' "
                f"AND {ALIVE} RETURNING value",
                [delta, name, time.time()],
            )
            .fetchone()
        )
        if row is None:
            # Missing, expired or not a number: as BaseCache.incr says it.
            if self.get(key, version=version) is None:
                raise ValueError(f"Key '{key}' not found")
            raise TypeError(f"the value of {key!r} is not an integer")
        return row[0]

    def delete(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._db().execute("DELETE FROM cache WHERE key = ?", [key]).rowcount == 1

    def has_key(self, key: str, version: int | None = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        row = (
            self._db()
            .execute(f"SELECT 1 FROM cache WHERE key = ? AND {ALIVE}", [key, time.time()])
            .fetchone()
        )
        return row is not None

    def clear(self) -> None:
        self._db().execute("DELETE FROM cache")
