"""`manage.py first_run`: the first admin and key, made once, even by hosts started at once."""

import os
import subprocess
import sys

import psycopg
from django.contrib.auth.models import User
from django.db import connection

from events.management.commands.first_run import FIRST_RUN_LOCK
from tests.support import ROOT, database_url_of_test_db, wait_for


def first_run() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "first_run", "--url=http://eye.example"],
        cwd=ROOT,
        env={**os.environ, "EYE_DATABASE_URL": database_url_of_test_db()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_it_makes_one_admin_when_two_hosts_start_at_once(store):
    settings = connection.settings_dict
    # Another first_run, in the middle of its work: both new ones must wait for it, then
    # find what it made instead of making a second admin.
    with psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or "5432",
        user=settings["USER"],
        dbname=settings["NAME"],
    ) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [FIRST_RUN_LOCK])
        hosts = [first_run(), first_run()]

        def waiting_on_the_lock() -> bool:
            rows = holder.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            return rows[0] == 2

        assert wait_for(waiting_on_the_lock, timeout=30)
        assert all(host.poll() is None for host in hosts)
        holder.rollback()

    outputs = [host.communicate(timeout=30)[0] for host in hosts]
    assert [host.returncode for host in hosts] == [0, 0], outputs
    assert User.objects.filter(is_superuser=True).count() == 1
    assert sum("user: admin  password:" in output for output in outputs) == 1


def test_it_does_nothing_once_a_user_exists(store):
    User.objects.create_user("someone")
    host = first_run()
    output = host.communicate(timeout=30)[0]
    assert host.returncode == 0
    assert output == ""
    assert not User.objects.filter(is_superuser=True).exists()
