"""The events table as the SQL migrations build it, on each flavour of PostgreSQL."""

from datetime import UTC, datetime, timedelta

from django.db import connection

from events.selectors import event_list
from events.services import EventRow, event_bulk_create


def put_days(app, days: int, *, start: datetime = datetime(2021, 1, 1, 12, tzinfo=UTC)) -> None:
    event_bulk_create(
        rows=[
            EventRow(
                f"00000000-0000-4000-8000-{i:012d}",
                start + timedelta(days=i),
                "e2085be5-9137-4e4e-80b5-f1ffddc25423",
                "c",
                "n",
                "{}",
            )
            for i in range(days)
        ],
        application_id=app.application.pk,
        received_at=datetime.now(UTC),
    )


def scalar(sql: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_it_is_a_hypertable_partitioned_by_timestamp(hypertable):
    assert (
        scalar(
            "SELECT column_name FROM timescaledb_information.dimensions "
            "WHERE hypertable_name = 'events'"
        )
        == "timestamp"
    )
    assert scalar(
        "SELECT time_interval FROM timescaledb_information.dimensions "
        "WHERE hypertable_name = 'events'"
    ) == timedelta(days=7)


def test_it_puts_events_in_one_chunk_per_week(hypertable, web_app):
    # Chunks are aligned on multiples of 7 days since 1970-01-01, a Thursday; so is this.
    put_days(web_app, 21, start=datetime(2021, 1, 7, 12, tzinfo=UTC))

    assert scalar("SELECT count(*) FROM show_chunks('events')") == 3


def test_it_is_a_plain_table_without_timescaledb(plain_table):
    assert scalar("SELECT relkind FROM pg_class WHERE relname = 'events'") == "r"


def test_it_has_the_unique_key_that_makes_storage_idempotent(db):
    # Led by the timestamp, so that new events land at the right edge of the index.
    definition = scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conname = 'events_timestamp_event_id_application_id_key'"
    )
    assert definition == 'UNIQUE ("timestamp", event_id, application_id)'


def test_it_indexes_every_filter_of_the_query_api(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'events'")
        definitions = " | ".join(row[0] for row in cursor.fetchall())
    # The unique key, read backwards, gives the newest-first order of unfiltered pages.
    for columns in (
        "UNIQUE INDEX events_timestamp_event_id_application_id_key ON public.events USING btree "
        '("timestamp", event_id, application_id)',
        '(session_id, "timestamp" DESC, event_id DESC)',
        '(category, "timestamp" DESC, event_id DESC)',
        '(category, name, "timestamp" DESC, event_id DESC)',
    ):
        assert columns in definitions


def test_it_reads_a_session_through_its_index(web_app, db):
    put_days(web_app, 2)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT * FROM events WHERE session_id = %s "
            "ORDER BY timestamp DESC, event_id DESC LIMIT 10",
            ["e2085be5-9137-4e4e-80b5-f1ffddc25423"],
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "events_session_idx" in plan or "session_idx" in plan


def test_it_pages_newest_first_through_the_unique_key_read_backwards(web_app, db):
    put_days(web_app, 2)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT * FROM events WHERE timestamp < now() "
            "ORDER BY timestamp DESC, event_id DESC, application_id DESC LIMIT 10"
        )
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "Index Scan Backward" in plan
    assert "timestamp_event_id_application_id_key" in plan
    assert "Sort" not in plan


def test_one_application_s_page_needs_no_sort_for_the_application_tie_break(web_app, db):
    # Within one application the last column of the order is a constant, so a filtered
    # page is still one index range scan in order.
    put_days(web_app, 2)
    page = event_list(application_id=web_app.application.pk, category="page interaction")
    sql, params = page[:10].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = " ".join(row[0] for row in cursor.fetchall())
    assert "Index Scan" in plan
    assert "Sort" not in plan
