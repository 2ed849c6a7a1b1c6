"""manage.py load_demo_events: realistic events through the COPY path, rollups in step."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from events.demo import demo_end, demo_events
from events.models import Application, Event


def load(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_demo_events", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def scalar(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_it_loads_the_number_of_events_asked_for(store):
    out, err = load("--events", "3000", "--days", "30", "--seed", "7")

    assert Event.objects.count() == 3000
    assert "Loaded 3,000 demo events" in out
    assert "3,000/3,000 events" in err and "/s" in err and "left" in err
    assert Event.objects.filter(application=Application.objects.get(name="demo")).count() == 3000


def test_it_spreads_sessions_categories_and_days(store):
    load("--events", "3000", "--days", "30", "--seed", "7")

    now = timezone.now()
    assert Event.objects.filter(timestamp__gt=now).count() == 0
    assert Event.objects.filter(timestamp__lt=now - timedelta(days=31)).count() == 0
    assert scalar("SELECT count(DISTINCT date_trunc('day', timestamp)) FROM events") >= 25
    assert scalar("SELECT count(DISTINCT session_id) FROM events") > 100
    assert scalar("SELECT count(DISTINCT category) FROM events") >= 4
    assert scalar("SELECT count(DISTINCT (category, name)) FROM events") >= 8
    assert scalar("SELECT count(*) FROM events WHERE data ? 'path'") > 1000


def test_it_keeps_the_rollups_equal_to_the_raw_counts(store):
    load("--events", "2000", "--seed", "3")

    assert scalar("SELECT sum(events) FROM event_counts_hour") == 2000
    assert scalar("SELECT sum(events) FROM event_counts_minute") == 2000
    assert scalar("SELECT sum(events) FROM session_activity_hour") == 2000


def test_it_makes_the_same_events_from_the_same_seed(store):
    # The demo ends at the present minute: both loads must fall in the same one.
    if timezone.now().second >= 50:
        time.sleep(61 - timezone.now().second)
    load("--events", "500", "--seed", "11")
    load("--events", "500", "--seed", "11")

    # The second load brought the same event ids, which the unique key ignores.
    assert Event.objects.count() == 500


def test_it_ends_the_demo_at_the_present_minute(store):
    # How busy the newest minutes are depends on the hour of day (the generator's own
    # tests hold that at fixed ends); here, the command must end where the generator
    # ending at the present minute ends, so both must fall in the same minute.
    if timezone.now().second >= 50:
        time.sleep(61 - timezone.now().second)
    end = demo_end()
    load("--events", "3000", "--days", "1", "--seed", "5")

    expected = max(row.timestamp for row in demo_events(count=3000, days=1, seed=5, end=end))
    newest = Event.objects.order_by("-timestamp").values_list("timestamp", flat=True)[0]
    assert newest == expected
    assert newest < end <= timezone.now()


def test_it_covers_twice_the_longest_preset_by_default(store):
    load("--events", "3000", "--seed", "9")

    now = timezone.now()
    # "Last 30 days" then has a previous period to compare with.
    assert Event.objects.filter(timestamp__lt=now - timedelta(days=45)).count() > 500
    assert Event.objects.filter(timestamp__lt=now - timedelta(days=60, minutes=1)).count() == 0


def test_each_demo_event_arrives_when_it_happened_so_live_shows_the_newest(store, client):
    from django.contrib.auth.models import User

    load("--events", "2000", "--days", "2", "--seed", "5")

    assert scalar("SELECT count(*) FROM events WHERE received_at <> timestamp") == 0
    client.force_login(User.objects.create_user("alice"))
    rows = client.get("/live/rows/").content.decode()
    newest = Event.objects.order_by("-timestamp").first()
    assert newest.timestamp.strftime("%H:%M:%S") in rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events", "0"], "--events must be from 1 to 100,000,000"),
        (["--events", "99999999999999999999"], "--events must be from 1 to 100,000,000"),
        (["--days", "1000000000"], "--days must be from 1 to 3,650"),
        (["--application", "  "], "--application: the name must not be empty"),
        (["--application", "a" * 300], "--application: the name must be at most 100 characters"),
    ],
)
def test_it_refuses_what_it_cannot_load_with_a_message(store, args, message):
    with pytest.raises(CommandError, match=message):
        load(*args)
    assert Event.objects.count() == 0


def test_it_loads_into_the_application_named_without_its_spaces(store):
    load("--events", "10", "--application", " web ")

    assert list(Application.objects.values_list("name", flat=True)) == ["web"]
