"""Redis connections from EYE_REDIS_URL: one Redis, or the master of a Sentinel set.

    redis://[:PASSWORD@]HOST:PORT/DB
    redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE/DB

The second form names the sentinels, not the master: every new connection asks them where
the master is, so after a failover the queue, the cache and the rate limits follow the
promoted replica without a restart. The password, if any, is the master's (and its
replicas'); `?sentinel_password=` gives the sentinels' own if they have one.

Settings import this module before Django's apps are loaded, so it knows nothing of them.
"""

import sqlite3
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from redis import ConnectionPool, RedisError
from redis.sentinel import Sentinel, SentinelConnectionPool

# What the queue and the shared cache raise when their store cannot be reached: Redis, or
# the SQLite files of a self-contained run, or the file system under either.
STORE_ERRORS = (RedisError, sqlite3.Error, OSError)

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelTarget:
    sentinels: list[tuple[str, int]]
    service: str
    db: int
    password: str | None
    sentinel_password: str | None


def sentinel_target_parse(url: str) -> SentinelTarget | None:
    """The parts of a redis+sentinel:// URL, or None for any other URL.

    Raises ValueError, naming what is wrong, for a sentinel URL that cannot be used.
    """
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    # urlsplit cannot read a list of hosts as a port, so the location is split by hand.
    userinfo, _, hosts = parts.netloc.rpartition("@")
    password = unquote(userinfo.partition(":")[2]) or None
    sentinels = []
    for item in hosts.split(","):
        item = item.strip()
        host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise ValueError(f"a sentinel address in {url!r} has no host")
        try:
            sentinels.append((host, int(port) if port else DEFAULT_SENTINEL_PORT))
        except ValueError:
            raise ValueError(f"a sentinel port in {url!r} is not a number") from None
    path = [unquote(piece) for piece in parts.path.strip("/").split("/") if piece]
    if not path:
        raise ValueError(
            f"{url!r} names no Sentinel service: redis+sentinel://HOST:PORT/SERVICE/DB"
        )
    if len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ValueError(f"{url!r}: the path must be /SERVICE or /SERVICE/DB, DB a number")
    query = parse_qs(parts.query)
    return SentinelTarget(
        sentinels=sentinels,
        service=path[0],
        db=int(path[1]) if len(path) == 2 else 0,
        password=password,
        sentinel_password=(query.get("sentinel_password") or [None])[-1],
    )


def redis_pool_from_url(url: str, **options: object) -> ConnectionPool:
    """A connection pool for either form of URL; `options` go to every connection."""
    target = sentinel_target_parse(url)
    if target is None:
        return ConnectionPool.from_url(url, **options)
    # The sentinels get the short timeouts too: a dead sentinel must not hold a request up.
    sentinel_options = {
        key: value
        for key, value in options.items()
        if key in {"socket_timeout", "socket_connect_timeout"}
    }
    if target.sentinel_password:
        sentinel_options["password"] = target.sentinel_password
    manager = Sentinel(target.sentinels, sentinel_kwargs=sentinel_options)
    return SentinelConnectionPool(
        target.service,
        manager,
        db=target.db,
        password=target.password,
        **options,
    )


class UrlConnectionPool(ConnectionPool):
    """For Django's Redis cache (its OPTIONS["pool_class"]): the cache builds its pools
    with `pool_class.from_url`, which here understands redis+sentinel:// too."""

    @classmethod
    def from_url(cls, url: str, **options: object) -> ConnectionPool:  # type: ignore[override]
        return redis_pool_from_url(url, **options)
