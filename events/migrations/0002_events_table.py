"""The events table, in plain SQL.

Every index ends in (timestamp DESC, event_id DESC), the order in which the API and the
dashboard read, so that a filtered, newest-first page is an index range scan and keyset
paging never skips or repeats ties on timestamp.

There is no foreign key to the application table: checking it would cost a lookup per
row on the ingest path, and the API has already authenticated the application.

When the server can load TimescaleDB, the table becomes a hypertable partitioned by
timestamp; otherwise it stays a plain table and everything works the same, slower at scale.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.backends.utils import CursorWrapper
from django.db.migrations.state import StateApps

CREATE_EVENTS = """
CREATE TABLE events (
    event_id uuid NOT NULL,
    "timestamp" timestamptz NOT NULL,
    session_id uuid NOT NULL,
    category text NOT NULL,
    name text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    application_id bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- A retried delivery carries the same event_id and timestamp, so ON CONFLICT on this
    -- key turns at-least-once delivery into exactly-once storage.
    CONSTRAINT events_event_id_timestamp_key UNIQUE (event_id, "timestamp")
);
CREATE INDEX events_timestamp_idx ON events ("timestamp" DESC, event_id DESC);
CREATE INDEX events_session_idx ON events (session_id, "timestamp" DESC, event_id DESC);
CREATE INDEX events_category_idx ON events (category, "timestamp" DESC, event_id DESC);
CREATE INDEX events_category_name_idx ON events (category, name, "timestamp" DESC, event_id DESC);
"""

DROP_EVENTS = "DROP TABLE IF EXISTS events;"


def timescaledb_available(cursor: CursorWrapper) -> bool:
    """Whether this server can run TimescaleDB: installed, and preloaded. A server that has
    the files but not the preload must not even try: loading it then ends the connection."""
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
    if cursor.fetchone() is None:
        return False
    cursor.execute("SELECT current_setting('shared_preload_libraries')")
    preloaded = [name.strip() for name in cursor.fetchone()[0].split(",")]
    if "timescaledb" not in preloaded:
        return False
    cursor.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    return True


def make_hypertable(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if settings.EYE_TIMESCALEDB == "off":
        return
    with schema_editor.connection.cursor() as cursor:
        if not timescaledb_available(cursor):
            if settings.EYE_TIMESCALEDB == "required":
                raise ImproperlyConfigured(
                    "EYE_TIMESCALEDB=required, but this PostgreSQL cannot load timescaledb "
                    "(is it installed and in shared_preload_libraries?)"
                )
            return
        # Our own indexes above already lead with the time column where it matters.
        cursor.execute(
            "SELECT create_hypertable('events', 'timestamp', "
            "chunk_time_interval => %s::interval, create_default_indexes => false)",
            [settings.EYE_CHUNK_INTERVAL],
        )


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [
        migrations.RunSQL(CREATE_EVENTS, DROP_EVENTS),
        migrations.RunPython(make_hypertable, migrations.RunPython.noop),
    ]
