"""Shared fixtures. Tests run against a real PostgreSQL and a real Redis.

The environment is set here, before Django loads its settings, so that a test run never
touches the queue or the database of a running development instance; then Django is set
up at once so that test modules can import models.
"""

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator

import django
import pytest
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eye.settings")
os.environ.setdefault("EYE_QUEUE_NAME", "eye-test")
os.environ.setdefault("EYE_REDIS_URL", "redis://127.0.0.1:6379/15")
# Metrics of this run only, summed over this process and the consumers it starts.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="eye-test-metrics-")
    atexit.register(shutil.rmtree, os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
os.environ.setdefault("EYE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eye")
# Revocation must show at once in these tests; the cache has tests of its own.
os.environ.setdefault("EYE_KEY_CACHE_SECONDS", "0")
os.environ.setdefault("EYE_CONFIG_CACHE_SECONDS", "0")

EXPECT_TIMESCALEDB = os.environ.get("EYE_TEST_EXPECT_TIMESCALEDB")

# A suite started as a background job of a non-interactive shell inherits SIGINT ignored,
# and so would every process it starts, which an ignored signal survives exec into: the
# tests that press Ctrl-C on `eye tail` or on a child of the supervisor would wait for
# nothing. Python's own handler is what a terminal gives; a handled signal is reset to
# the default in a child.
signal.signal(signal.SIGINT, signal.default_int_handler)

django.setup()

# A deliberately slow password hash is the point in production and only a cost here, where
# the dashboard's tests create users by the hundred.
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def huey():
    from huey.contrib.djhuey import HUEY

    return HUEY


@pytest.fixture(autouse=True)
def _fresh_queue_and_caches(huey) -> Iterator[None]:
    from django.core.cache import cache

    from events.event_schemas import event_schema_cache_clear
    from events.keys import key_cache_clear
    from events.retention import retention_cache_clear

    def flush() -> None:
        huey.storage.flush_all()
        # Key ids restart with each test database, so old rate-limit counters would
        # otherwise count against new keys; a heartbeat left by an earlier consumer would
        # make a dead worker look alive.
        cache.clear()

    flush()
    key_cache_clear()
    # Schemas and retention rules are cached per process; one test's must not apply in the next.
    event_schema_cache_clear()
    retention_cache_clear()
    yield
    flush()


@pytest.fixture
def store(transactional_db) -> Iterator[None]:
    """A database committed to for real, as the worker's is. The events table is not
    managed by Django, so the flush between transactional tests leaves it and its rollups;
    empty them here."""
    from django.db import connection

    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE events, event_counts_minute, event_counts_hour, session_activity_hour, "
            "event_value_counts_hour"
        )


@pytest.fixture
def web_app(db):
    from events.models import Application
    from tests.support import AppKeys

    return AppKeys(Application.objects.create(name="web"))


@pytest.fixture
def mobile_app(db):
    from events.models import Application
    from tests.support import AppKeys

    return AppKeys(Application.objects.create(name="mobile"))


@pytest.fixture
def api():
    from tests.support import ApiClient

    return ApiClient()


@pytest.fixture
def drain(huey, store) -> Callable[[], int]:
    from tests.support import run_queued_tasks

    return lambda: run_queued_tasks(huey)


@pytest.fixture
def consumer(store):
    from tests.support import start_consumer, stop_process

    process = start_consumer()
    yield process
    stop_process(process)


@pytest.fixture
def consumer_without_periodic_tasks(store):
    """A consumer whose scheduler queues nothing of its own: the queue then holds only
    what the test sent, whatever the minute on the clock."""
    from tests.support import start_consumer, stop_process

    process = start_consumer(periodic=False)
    yield process
    stop_process(process)


@pytest.fixture
def hypertable(db) -> None:
    """For tests of hypertable behaviour. `make test` runs the suite once on TimescaleDB
    (where these must run: a missing extension fails them) and once on plain PostgreSQL
    (where they are skipped, having run in the first pass)."""
    from tests.support import is_hypertable

    if is_hypertable():
        return
    if EXPECT_TIMESCALEDB == "1":
        pytest.fail("EYE_TEST_EXPECT_TIMESCALEDB=1 but events is not a hypertable")
    pytest.skip("plain PostgreSQL: runs in the TimescaleDB pass of make test")


@pytest.fixture
def plain_table(db) -> None:
    from tests.support import is_hypertable

    if not is_hypertable():
        return
    if EXPECT_TIMESCALEDB == "0":
        pytest.fail("EYE_TEST_EXPECT_TIMESCALEDB=0 but events is a hypertable")
    pytest.skip("TimescaleDB: runs in the plain PostgreSQL pass of make test")


@pytest.fixture
def private_redis(huey):
    """The queue moved onto a Redis of the test's own, which the test may stop and start."""
    from tests.support import PrivateRedis, queue_moved_to

    server = PrivateRedis()
    server.start()
    with queue_moved_to(huey, server.url):
        yield server
    server.stop()
