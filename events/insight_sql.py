"""How the funnel and breakdown statements run: with room to sort in memory.

Both sort or hash a month of one kind's events per statement (a funnel walks each
session's step events in order); PostgreSQL's default 4 MB of work_mem made those sorts
spill to disk at a million events. The raised limit holds for the one statement only.
"""

from django.db import connection, transaction

WORK_MEM = "64MB"


def insight_fetchall(*, sql: str, params: list[object]) -> list[tuple]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        # SET LOCAL lasts to the end of the outermost transaction, which is not this
        # block when the caller already holds one.
        cursor.execute("SET LOCAL work_mem TO DEFAULT")
    return rows
