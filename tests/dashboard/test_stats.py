"""The range/bucket helper, the counts behind the pages, colours and number formats."""

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.charts import PALETTE, colour_map, colour_of
from dashboard.templatetags.eye import change, duration, share, thousands
from events.rollups import Granularity, event_counts_series, event_counts_total
from events.stats import event_count
from insights.ranges import time_range_resolve
from tests.dashboard.support import NOW
from tests.support import database_url_of_test_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("span", "granularity"),
    [
        (timedelta(hours=1), "minute"),
        (timedelta(hours=6), "minute"),
        (timedelta(hours=7), "hour"),
        (timedelta(days=8), "hour"),
        (timedelta(days=30), "day"),
        (timedelta(days=120), "day"),
        (timedelta(days=121), "week"),
    ],
)
def test_it_picks_the_bucket_size_from_the_span(span, granularity):
    assert Granularity.for_span(span) == granularity


def test_it_floors_and_ceils_on_bucket_boundaries():
    moment = at("2026-03-18 14:25:30.5")  # a Wednesday

    assert Granularity.MINUTE.floor(moment) == at("2026-03-18 14:25")
    assert Granularity.HOUR.floor(moment) == at("2026-03-18 14:00")
    assert Granularity.DAY.floor(moment) == at("2026-03-18")
    assert Granularity.WEEK.floor(moment) == at("2026-03-16")  # Monday, as date_trunc
    assert Granularity.HOUR.ceil(moment) == at("2026-03-18 15:00")
    assert Granularity.HOUR.ceil(at("2026-03-18 15:00")) == at("2026-03-18 15:00")


@pytest.mark.django_db
@settings(max_examples=60, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    granularity=st.sampled_from(list(Granularity)),
)
def test_the_sql_bucket_is_the_python_floor_in_any_server_zone(moment, granularity):
    with connection.cursor() as cursor:
        # A zone far from UTC, with daylight saving: the buckets must not move with it.
        cursor.execute("SET LOCAL TimeZone = 'Pacific/Chatham'")
        # As seconds: Django reads a timestamptz back as if the session were in UTC.
        cursor.execute(
            f"SELECT extract(epoch FROM {granularity.truncate_sql('%(at)s::timestamptz')}), "
            "extract(epoch FROM date_trunc(%(unit)s, %(at)s::timestamptz, 'UTC'))",
            {"at": moment, "unit": granularity.value},
        )
        bucket, truncated = cursor.fetchone()

    assert bucket == truncated == int(granularity.floor(moment).timestamp())


def test_it_lists_every_bucket_of_a_range():
    buckets = Granularity.DAY.buckets(start=at("2026-02-27"), end=at("2026-03-02"))

    assert buckets == [at("2026-02-27"), at("2026-02-28"), at("2026-03-01")]


def test_it_zero_fills_buckets_without_events(put, web_app):
    put(web_app, at("2026-03-18 10:15"), category="a")
    put(web_app, at("2026-03-18 12:40"), category="b")
    put(web_app, at("2026-03-18 12:41"), category="b")

    series = event_counts_series(
        start=at("2026-03-18 10:00"),
        end=at("2026-03-18 14:00"),
        granularity=Granularity.HOUR,
        group_by="category",
    )

    assert series.buckets == [at(f"2026-03-18 {h}:00") for h in (10, 11, 12, 13)]
    assert series.values == {"a": [1, 0, 0, 0], "b": [0, 0, 2, 0]}
    assert series.totals() == [1, 0, 2, 0]


def test_it_sums_days_and_weeks_from_hour_rows_in_utc(put, web_app):
    # 23:30 and 00:30 UTC fall on two days whatever the server's own time zone.
    put(web_app, at("2026-03-15 23:30"))
    put(web_app, at("2026-03-16 00:30"))

    days = event_counts_series(
        start=at("2026-03-15"), end=at("2026-03-17"), granularity=Granularity.DAY, group_by="name"
    )
    weeks = event_counts_series(
        start=at("2026-03-09"), end=at("2026-03-23"), granularity=Granularity.WEEK, group_by="name"
    )

    assert days.values == {"pageview": [1, 1]}
    assert weeks.values == {"pageview": [1, 1]}  # Sunday the 15th, then Monday the 16th


@pytest.mark.parametrize(
    ("preset", "start", "end", "granularity"),
    [
        ("1h", "2026-03-18 13:26", "2026-03-18 14:26", "minute"),
        ("24h", "2026-03-17 15:00", "2026-03-18 15:00", "hour"),
        ("7d", "2026-03-11 15:00", "2026-03-18 15:00", "hour"),
        ("30d", "2026-02-17 00:00", "2026-03-19 00:00", "day"),
        ("today", "2026-03-18 00:00", "2026-03-18 15:00", "hour"),
        ("yesterday", "2026-03-17 00:00", "2026-03-18 00:00", "hour"),
    ],
)
def test_it_resolves_presets_to_whole_buckets_ending_with_the_current_one(
    preset, start, end, granularity
):
    time_range = time_range_resolve(preset=preset, now=NOW)

    assert (time_range.start, time_range.end) == (at(start), at(end))
    assert time_range.granularity == granularity
    assert time_range.previous_start == at(start) - (at(end) - at(start))


def test_it_widens_a_custom_range_to_whole_buckets():
    time_range = time_range_resolve(
        preset="custom", start=at("2026-03-01 10:20"), end=at("2026-03-03 09:10"), now=NOW
    )

    assert (time_range.start, time_range.end) == (at("2026-03-01 10:00"), at("2026-03-03 10:00"))
    assert time_range.incomplete_bucket is None


def test_it_knows_the_bucket_still_filling():
    assert time_range_resolve(preset="24h", now=NOW).incomplete_bucket == at("2026-03-18 14:00")
    assert time_range_resolve(preset="yesterday", now=NOW).incomplete_bucket is None


def test_it_totals_from_rollups_only_on_minute_boundaries(put, web_app):
    put(web_app, at("2026-03-18 10:15:10"))

    assert event_counts_total(start=at("2026-03-18 10:00"), end=at("2026-03-18 11:00")) == 1
    assert event_counts_total(start=at("2026-03-18 10:15"), end=at("2026-03-18 10:16")) == 1
    assert event_counts_total(start=at("2026-03-18 10:15:05"), end=None) is None
    assert event_counts_total(start=None, end=None, category="page interaction") == 1


def test_it_gives_up_counting_rather_than_keep_a_page_waiting(store, put, web_app):
    put(web_app, NOW)
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        # Another session holds the table, so the count waits and meets its deadline.
        with psycopg.connect(database_url_of_test_db(), autocommit=False) as other:
            other.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    assert locked.wait(10)
    try:
        count = event_count(data_key="path", timeout_ms=100)
    finally:
        release.set()
        holder.join()

    assert (count.value, count.exact) == (None, False)
    assert event_count(data_key="path").value == 0  # and the connection is fine afterwards


def test_it_gives_a_dozen_categories_a_dozen_colours():
    categories = [f"category {i}" for i in range(12)]

    colours = colour_map(categories)

    assert len({colours[c] for c in categories}) == 12
    assert {colours[c] for c in categories} <= set(PALETTE)
    # A category alone keeps the slot its name hashes to.
    assert colour_map(["errors"])["errors"] == colour_of("errors")


def test_it_never_moves_a_categorys_colour_when_a_new_one_appears():
    seen = ["page interaction", "commerce", "form interaction", "account", "errors"]
    colours = colour_map(seen)

    for newcomer in ["a newcomer", "aardvark", "zebra", "billing", "search", "video"]:
        seen.append(newcomer)
        grown = colour_map(seen)
        assert {c: grown[c] for c in colours} == colours
        assert len({grown[c] for c in seen}) == len(seen)
        colours = grown


def test_it_keeps_names_off_their_categorys_colour():
    category = colour_of("page interaction")
    names = [f"name {i}" for i in range(11)]

    colours = colour_map(names, avoid=category)

    assert category not in {colours[n] for n in names}
    assert len({colours[n] for n in names}) == 11


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (1204311, "1,204,311"), (25.14, "25.1"), (None, "\u2013")],
)
def test_it_writes_numbers_with_thousands_separators(value, text):
    assert thousands(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(4.2, "4.2 s"), (38, "38 s"), (372, "6 min 12 s"), (7380, "2 h 3 min"), (273600, "3 d 4 h")],
)
def test_it_writes_durations_in_two_units_at_most(seconds, text):
    assert duration(timedelta(seconds=seconds)) == text


def test_it_writes_changes_and_shares():
    assert change(112, 100)["text"] == "12%" and change(112, 100)["direction"] == "up"
    assert change(97, 100)["direction"] == "down" and change(97, 100)["good"] is False
    assert change(5, 0)["text"] == "new"
    assert change(12, 10, higher_is_worse=True)["good"] is False
    assert share(1, 300) == "<1%" and share(2, 3) == "67%" and share(1, 0) == "\u2013"
