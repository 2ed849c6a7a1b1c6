"""A real PostgreSQL streaming replica of the cluster that holds the test database, made
with pg_basebackup and started on a port of its own, and its alias in this process."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from django.db import connection

from tests.support import free_port, wait_for

CONFIGURATION = {
    "postgresql.conf": "",
    "pg_hba.conf": "local all postgres trust\nhost all postgres 127.0.0.1/32 trust\n",
}


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class StreamingReplica:
    def __init__(self) -> None:
        source = connection.settings_dict
        self.source_host = source["HOST"] or "127.0.0.1"
        self.source_port = source["PORT"] or "5432"
        self.database = source["NAME"]
        self.port = free_port()
        self.slot = f"eye_test_replica_{self.port}"
        # Not under pytest's tmp_path: the postgres user cannot enter root's private folders.
        self.directory = Path(tempfile.mkdtemp(prefix="eye-test-replica-"))
        self.directory.chmod(0o755)
        self.data = self.directory / "data"
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            major = int(cursor.fetchone()[0]) // 10000
            cursor.execute("SHOW shared_preload_libraries")
            self.preload = cursor.fetchone()[0]
        self.bin = Path(f"/usr/lib/postgresql/{major}/bin")

    def start(self) -> None:
        # A slot made before the copy starts keeps every WAL segment the copy and then the
        # replica need from being recycled, however busy the primary is.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_create_physical_replication_slot(%s, true)", [self.slot])
        try:
            self._copy_and_start()
        except BaseException:
            self.stop()
            raise

    def _copy_and_start(self) -> None:
        self.data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres", "postgres")
        backup = subprocess.run(
            as_postgres(
                [
                    str(self.bin / "pg_basebackup"),
                    *("-h", self.source_host, "-p", str(self.source_port), "-U", "postgres"),
                    *("-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast"),
                    *("-S", self.slot),
                ]
            ),
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert backup.returncode == 0, f"pg_basebackup failed: {backup.stderr}"
        # A Debian cluster keeps its configuration in /etc, outside the copied data
        # folder: the replica then gets its own, which the options below complete.
        for name, text in CONFIGURATION.items():
            path = self.data / name
            if not path.exists():
                path.write_text(text)
                if os.geteuid() == 0:
                    shutil.chown(path, "postgres", "postgres")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data}"
            f" -c shared_preload_libraries='{self.preload}' -c fsync=off -c hot_standby=on"
        )
        started = subprocess.run(
            as_postgres(
                # The server writes to a log of its own: one that kept our pipe open
                # would leave this call waiting for ever.
                [
                    *(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options),
                    *("-l", str(self.data / "server.log"), "-w", "start"),
                ]
            ),
            capture_output=True,
            text=True,
            cwd="/",
        )
        assert started.returncode == 0, (
            f"the replica did not start: {started.stdout}{started.stderr}"
        )

    def stop(self) -> None:
        subprocess.run(
            as_postgres(
                [str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
            ),
            capture_output=True,
            cwd="/",
        )
        shutil.rmtree(self.directory, ignore_errors=True)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                " WHERE slot_name = %s",
                [self.slot],
            )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def sql(self, statement: str) -> list[tuple]:
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=self.database, autocommit=True
        ) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def caught_up_with(self, count: int) -> bool:
        return wait_for(lambda: self.sql("SELECT count(*) FROM events")[0][0] == count, timeout=20)
