"""events.breakdowns: per value and bucket, the counts of the raw events, "other" holding
the rest (and the events without the key), for several ranges and intervals."""

import random
import uuid
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from events.breakdowns import breakdown_series
from events.rollups import Granularity
from tests.insights.support import Stored, events_store

START = datetime(2026, 5, 4, 0, 0, tzinfo=UTC)
PATHS = [f"/page/{i}" for i in range(14)]


@pytest.fixture
def spread(web_app, mobile_app) -> list[Stored]:
    """Pageviews over three weeks with 14 paths of skewed frequency, some without a path,
    some with a plan inside a form object; a few of another app and another name."""
    rng = random.Random(3)
    events = []
    for i in range(900):
        data: dict = {}
        if rng.random() < 0.9:
            data["path"] = PATHS[min(int(rng.expovariate(0.25)), len(PATHS) - 1)]
        if rng.random() < 0.5:
            data["form"] = {"plan": rng.choice(["free", "pro", "team"])}
        at = START + timedelta(seconds=rng.randrange(21 * 86400), microseconds=i)
        events.append(Stored(str(uuid.uuid4()), at, "page", "view", data))
    events_store(web_app.application.pk, events)
    others = [
        Stored(str(uuid.uuid4()), START + timedelta(hours=i), "page", "click", {"path": "/"})
        for i in range(30)
    ]
    events_store(web_app.application.pk, others)
    events_store(
        mobile_app.application.pk,
        [replace(e, event_id=str(uuid.uuid4())) for e in events[:50]],
    )
    return events


def _value(event: Stored, key: str) -> str | None:
    value: object = event.data
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return str(value)


@pytest.mark.parametrize(
    ("days_from", "days", "granularity"),
    [(0, 21, Granularity.DAY), (2, 3, Granularity.HOUR), (0, 28, Granularity.WEEK)],
)
@pytest.mark.parametrize("key", ["path", "form.plan"])
def test_it_equals_counts_of_the_raw_events(web_app, spread, days_from, days, granularity, key):
    start = START + timedelta(days=days_from)
    end = start + timedelta(days=days)
    inside = [e for e in spread if start <= e.timestamp < end]

    breakdown = breakdown_series(
        key=key,
        start=start,
        end_exclusive=end,
        granularity=granularity,
        application_id=web_app.application.pk,
        category="page",
        name="view",
    )

    assert breakdown.total == len(inside)
    frequency = Counter(_value(e, key) for e in inside if _value(e, key) is not None)
    ranked = sorted(frequency.items(), key=lambda item: (-item[1], item[0]))
    top = dict(ranked[:10])
    assert {s.value: s.total for s in breakdown.series} == top
    assert breakdown.other_total == len(inside) - sum(top.values())
    position = {b: i for i, b in enumerate(breakdown.buckets)}
    for series in breakdown.series:
        per_bucket = [0] * len(breakdown.buckets)
        for e in inside:
            if _value(e, key) == series.value:
                per_bucket[position[granularity.floor(e.timestamp)]] += 1
        assert series.counts == per_bucket
    assert [s.total for s in breakdown.series] == sorted(
        (s.total for s in breakdown.series), reverse=True
    )


def test_it_counts_events_without_the_key_as_other(web_app, spread):
    end = START + timedelta(days=21)
    breakdown = breakdown_series(
        key="form.plan",
        start=START,
        end_exclusive=end,
        granularity=Granularity.DAY,
        application_id=web_app.application.pk,
        category="page",
        name="view",
    )

    without = sum(1 for e in spread if _value(e, "form.plan") is None)
    assert {s.value for s in breakdown.series} == {"free", "pro", "team"}
    assert breakdown.other_total == without


def test_it_gives_one_series_without_a_key(web_app, spread):
    end = START + timedelta(days=21)
    breakdown = breakdown_series(
        key=None, start=START, end_exclusive=end, granularity=Granularity.DAY, category="page"
    )

    assert [s.value for s in breakdown.series] == [None]
    assert breakdown.total == len(spread) + 50 + 30
    assert breakdown.other_total == 0


@pytest.mark.parametrize(
    ("start", "end", "granularity", "name", "mobile"),
    [
        # Edges inside a minute and inside an hour: raw rows, minute and hour rollups.
        (
            START + timedelta(hours=5, minutes=7, seconds=13),
            START + timedelta(days=9, hours=2, minutes=41, seconds=5),
            Granularity.DAY,
            "view",
            False,
        ),
        (
            START + timedelta(minutes=30),
            START + timedelta(days=2, minutes=1),
            Granularity.HOUR,
            None,
            False,
        ),
        (START, START + timedelta(days=21), Granularity.WEEK, "view", True),
        (START + timedelta(seconds=1), START + timedelta(seconds=59), Granularity.HOUR, None, True),
        (
            START + timedelta(hours=7, minutes=3, seconds=2),
            START + timedelta(hours=9, minutes=58, seconds=1),
            Granularity.HOUR,
            None,
            False,
        ),
    ],
)
def test_without_a_key_it_equals_the_raw_counts_over_any_range(
    web_app, mobile_app, spread, start, end, granularity, name, mobile
):
    application = (mobile_app if mobile else web_app).application.pk
    # The fixture's clicks: one an hour for 30 hours.
    clicks = [(START + timedelta(hours=i), "click") for i in range(30)]
    stored = [(e.timestamp, e.name) for e in spread]
    matching = Counter(
        granularity.floor(at)
        for at, kind in (stored[:50] if mobile else stored + clicks)
        if start <= at < end and name in (None, kind)
    )

    breakdown = breakdown_series(
        key=None,
        start=start,
        end_exclusive=end,
        granularity=granularity,
        application_id=application,
        category="page",
        name=name,
    )

    expected = [matching[bucket] for bucket in granularity.buckets(start=start, end=end)]
    # A range without events has no series, as by a key.
    assert [s.counts for s in breakdown.series] == ([expected] if any(expected) else [])
    assert breakdown.other_total == 0


def test_without_a_key_it_reads_the_event_rollups_for_whole_hours(web_app, spread):
    query = dict(
        key=None, start=START, end_exclusive=START + timedelta(days=2), granularity=Granularity.DAY
    )
    before = breakdown_series(**query).total
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE event_counts_hour SET events = events + 1000 "
            "WHERE (bucket, application_id, category, name) = (SELECT bucket, application_id, "
            "category, name FROM event_counts_hour ORDER BY 1, 2, 3, 4 LIMIT 1)"
        )

    assert breakdown_series(**query).total == before + 1000
    # A filter the rollups do not keep reads the events themselves.
    assert breakdown_series(**query, data_key="path").total < before
