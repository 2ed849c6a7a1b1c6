"""Several reads sent to the database as one message, for answers on the request path.

A page of GET /api/event/ needs its rows and its count, and Django would spend a third
round trip first on its health check (`SELECT 1` on a reused connection, at the first
query of every request). On a loaded machine each round trip is a wait for the database
process to be scheduled, and costs more than the statements themselves. Here the
statements go together, as one simple-query message, and the health check is replaced by
what it is for: when the connection turns out to be dead, it is reopened and the reads
sent once more (they change nothing, so sending them again is safe).
"""

from collections.abc import Mapping, Sequence

from django.db import InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader

Statement = tuple[str, Sequence[object] | Mapping[str, object]]


def statements_fetch(alias: str, statements: Sequence[Statement]) -> list[list[tuple]]:
    """The rows of each statement, in order, from one round trip to the database `alias`.
    Timestamps come through psycopg's C loader (Django's own, on the connection, is
    Python)."""
    connection = connections[alias]
    while True:
        reused = connection.connection is not None and not connection.in_atomic_block
        if reused:
            connection.health_check_done = True
        try:
            return _fetch(connection, statements)
        except (OperationalError, InterfaceError):
            if not reused:
                raise
            # A connection that died while idle (the database restarted, a proxy timed
            # it out): what the skipped health check would have found. Once only: the
            # next attempt opens a new connection, so `reused` is then false.
            connection.close()


def _fetch(connection: BaseDatabaseWrapper, statements: Sequence[Statement]) -> list[list[tuple]]:
    composed = "; ".join(connection.ops.compose_sql(sql, params) for sql, params in statements)
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(composed)
        results = [cursor.fetchall()]
        while cursor.nextset():
            results.append(cursor.fetchall())
    return results
