"""The unique key of events takes in the application: ("timestamp", event_id,
application_id).

An event's id is the idempotency key of the application that sent it, not of the whole
Eye. Keyed on ("timestamp", event_id) alone, an event that two applications both sent with
the same id and timestamp (one app's events mirrored to a staging application, or ids
derived from the client's own keys, such as a UUIDv5 of an order number) was stored for
the first and answered 202 but silently dropped for the second.

The application goes last, so that the key still grows at its right edge for live traffic
and still serves, read backwards, the (timestamp DESC, event_id DESC, application_id DESC)
order that the API and the dashboard page through. Built before the old key is dropped, so
the table is never without one; on a large table the new key is built under a lock that
holds writers back until it is done.
"""

from django.db import migrations

FORWARD = """
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE events ADD CONSTRAINT events_timestamp_event_id_application_id_key
    UNIQUE ("timestamp", event_id, application_id);
ALTER TABLE events DROP CONSTRAINT events_timestamp_event_id_key;
"""

# Going back fails while two applications hold an event with the same id and timestamp:
# the older key cannot hold both, and which one to lose is not a migration's choice.
BACKWARD = """
SET LOCAL maintenance_work_mem = '256MB';
ALTER TABLE events ADD CONSTRAINT events_timestamp_event_id_key UNIQUE ("timestamp", event_id);
ALTER TABLE events DROP CONSTRAINT events_timestamp_event_id_application_id_key;
"""


class Migration(migrations.Migration):
    dependencies = [("events", "0013_value_counts")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
