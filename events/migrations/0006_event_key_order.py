"""The unique key of events leads with the timestamp, and takes the place of the timestamp
index.

The key (event_id, "timestamp") put every new event at a random place in its index, as
event ids are random UUIDv4s from the clients: each insert touched a page of its own, and
at scale one that had left the cache. Led by the timestamp, the key grows at its right
edge for live traffic (a few hot pages), and a backfill touches one region per chunk.
ON CONFLICT infers a unique index whatever the order of its columns, so idempotent
storage is unchanged.

The same key, read backwards, is the (timestamp DESC, event_id DESC) order that the API
and the dashboard page through, so the separate timestamp index goes: one index less to
keep up on every insert. Plain SQL for both TimescaleDB (the hypertable passes each
statement on to its chunks) and plain PostgreSQL. On a large table the new key is built
under a lock that holds writers back until it is done; a bigger maintenance_work_mem
shortens that.
"""

from django.db import migrations

FORWARD = """
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE events ADD CONSTRAINT events_timestamp_event_id_key UNIQUE ("timestamp", event_id);
ALTER TABLE events DROP CONSTRAINT events_event_id_timestamp_key;
DROP INDEX events_timestamp_idx;
"""

BACKWARD = """
SET LOCAL maintenance_work_mem = '256MB';
CREATE INDEX events_timestamp_idx ON events ("timestamp" DESC, event_id DESC);
ALTER TABLE events ADD CONSTRAINT events_event_id_timestamp_key UNIQUE (event_id, "timestamp");
ALTER TABLE events DROP CONSTRAINT events_timestamp_event_id_key;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0005_lifecycle")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
