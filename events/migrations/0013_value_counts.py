"""Counts per hour and value of the tracked data keys (events.models.TrackedKey), kept by
events/rollups.py as the other rollups are, so that a breakdown by a tracked key reads
hundreds of rows per day instead of every event.

A plain table, like the rollups of 0003: it holds a few rows per hour, kind and value,
so chunking it would only add planning time to every upsert.

`too_long` rows stand for the values too long for the key of this table (see
events.rollups.MAX_VALUE_ROW_BYTES): one row per hour and kind, value '', counting them
all, so that a breakdown knows to read raw events where they are.
"""

from django.db import migrations

CREATE_VALUE_COUNTS = """
CREATE TABLE event_value_counts_hour (
    bucket timestamptz NOT NULL,
    application_id bigint NOT NULL,
    category text NOT NULL,
    name text NOT NULL,
    key text NOT NULL,
    too_long boolean NOT NULL,
    value text NOT NULL,
    events bigint NOT NULL,
    PRIMARY KEY (bucket, application_id, category, name, key, too_long, value)
);
"""

DROP_VALUE_COUNTS = "DROP TABLE IF EXISTS event_value_counts_hour;"


class Migration(migrations.Migration):
    dependencies = [("events", "0012_tracked_keys")]

    operations = [migrations.RunSQL(CREATE_VALUE_COUNTS, DROP_VALUE_COUNTS)]
