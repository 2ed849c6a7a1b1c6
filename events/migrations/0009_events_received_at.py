"""An index in arrival order, for Live.

Live shows events in the order they reached the API (`received_at`), not in the order of
their own timestamps, so that an event sent hours late still shows at the top. Without
this index every poll would sort the whole table. `received_at` only grows, so new
entries land at the right edge of the index and keeping it costs ingest little. On a
hypertable the index is created on every chunk, present and future.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("events", "0008_read_all_applications")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX events_received_idx ON events (received_at DESC, event_id DESC);",
            "DROP INDEX IF EXISTS events_received_idx;",
        ),
    ]
