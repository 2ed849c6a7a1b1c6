"""A breakdown by a tracked key (hourly value counts for whole hours, raw events at the
edges) equals the breakdown of the raw events, on random events and ranges."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.breakdowns import Breakdown, breakdown_series
from events.models import TrackedKey
from events.rollups import Granularity
from events.tracked_keys import tracked_key_add, tracked_key_backfill
from tests.insights.support import Stored, events_store, events_truncate
from tests.lifecycle.support import assert_rollups_match_raw

START = datetime(2026, 5, 4, tzinfo=UTC)
SPAN_DAYS = 12
KINDS = [("page", "view"), ("page", "click"), ("form", "submit")]
KEYS = ["path", "form.plan"]
MISSING, JSON_NULL, NOT_AN_OBJECT = "missing", "null", "flat"


def track(key: str) -> TrackedKey:
    """Track `key` and run its backfill here, as the worker would."""
    tracked = tracked_key_add(key=key)
    tracked_key_backfill(tracked_key_id=tracked.pk)
    tracked.refresh_from_db()
    assert tracked.is_ready
    return tracked


def raw_breakdown(**query) -> Breakdown:
    """The same breakdown read from raw events: with no key ready, nothing else can answer."""
    ready = dict(TrackedKey.objects.values_list("pk", "ready_at"))
    TrackedKey.objects.update(ready_at=None)
    try:
        return breakdown_series(**query)
    finally:
        for pk, ready_at in ready.items():
            TrackedKey.objects.filter(pk=pk).update(ready_at=ready_at)


def data_of(path: object, plan: object) -> dict:
    data: dict = {}
    if path == JSON_NULL:
        data["path"] = None
    elif path != MISSING:
        data["path"] = path
    if plan == NOT_AN_OBJECT:
        data["form"] = "flat"
    elif plan != MISSING:
        data["form"] = {"plan": plan}
    return data


events_drawn = st.lists(
    st.tuples(
        st.integers(0, SPAN_DAYS * 86400 - 1),
        st.integers(0, 999_999),
        st.sampled_from([0, 1]),
        st.sampled_from(KINDS),
        st.one_of(
            st.sampled_from([MISSING, JSON_NULL, "", "/", "/a", "/b", "/c", "/d", "/e"]),
            st.sampled_from(["/f", "/g", "/h", "/i", "/j", "/k", "/l"]),
            st.integers(0, 3),
            st.booleans(),
        ),
        st.sampled_from([MISSING, NOT_AN_OBJECT, "free", "pro", "team", 49.0]),
    ),
    max_size=150,
)
queries = st.lists(
    st.fixed_dictionaries(
        {
            "start": st.integers(-86400, SPAN_DAYS * 86400),
            "micro": st.sampled_from([0, 0, 250_000]),
            "seconds": st.sampled_from([3600, 5400, 86400, 3 * 86400 + 59, 14 * 86400]),
            "granularity": st.sampled_from([Granularity.HOUR, Granularity.DAY, Granularity.WEEK]),
            "key": st.sampled_from(KEYS),
            "app": st.sampled_from([None, 0, 1]),
            "kind": st.sampled_from([(None, None), ("page", None), ("page", "view")]),
            "limit": st.sampled_from([1, 3, 10]),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=events_drawn, split=st.floats(0, 1), asked=queries)
def test_it_equals_the_raw_breakdown_on_random_events(
    store, web_app, mobile_app, drawn, split, asked
):
    events_truncate()
    TrackedKey.objects.all().delete()
    apps = [web_app.application.pk, mobile_app.application.pk]
    stored: list[tuple[int, Stored]] = []
    for seconds, micro, app, (category, name), path, plan in drawn:
        at = START + timedelta(seconds=seconds, microseconds=micro)
        stored.append((app, Stored(str(uuid.uuid4()), at, category, name, data_of(path, plan))))
    before = stored[: int(len(stored) * split)]
    # Some events are counted by the backfill, the others by ingest once the keys are tracked.
    for app in (0, 1):
        events_store(apps[app], [event for owner, event in before if owner == app])
    for key in KEYS:
        track(key)
    for app in (0, 1):
        events_store(apps[app], [event for owner, event in stored[len(before) :] if owner == app])
    assert_rollups_match_raw()

    for query in asked:
        start = START + timedelta(seconds=query["start"], microseconds=query["micro"])
        category, name = query["kind"]
        breakdown = dict(
            key=query["key"],
            start=start,
            end_exclusive=start + timedelta(seconds=query["seconds"]),
            granularity=query["granularity"],
            limit=query["limit"],
            application_id=None if query["app"] is None else apps[query["app"]],
            category=category,
            name=name,
        )
        assert breakdown_series(**breakdown) == raw_breakdown(**breakdown), query


@pytest.fixture
def tracked_path(store, web_app) -> list[Stored]:
    """Two days of pageviews, one path in three missing, `path` tracked and ready."""
    events = [
        Stored(
            str(uuid.uuid4()),
            START + timedelta(minutes=7 * i, microseconds=i),
            "page",
            "view",
            {"path": f"/{i % 5}"} if i % 3 else {},
        )
        for i in range(400)
    ]
    events_store(web_app.application.pk, events)
    track("path")
    return events


def test_it_reads_the_value_counts_for_whole_hours(web_app, tracked_path):
    query = dict(
        key="path",
        start=START,
        end_exclusive=START + timedelta(days=2),
        granularity=Granularity.DAY,
        application_id=web_app.application.pk,
    )
    before = breakdown_series(**query)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE event_value_counts_hour SET events = events + 1000 "
            "WHERE bucket = %s AND value = '/1'",
            [START + timedelta(hours=3)],
        )

    after = breakdown_series(**query)

    assert {s.value: s.total for s in after.series}["/1"] == (
        {s.value: s.total for s in before.series}["/1"] + 1000
    )
    # The events without the key are an hour's events less its counted values.
    assert after.other_total == before.other_total - 1000


@pytest.mark.parametrize(
    "query",
    [
        {"session_id": "b3f4d2a0-54a9-4c5e-9bd0-2f1c3c6f1a10"},
        {"data_key": "path"},
        {"granularity": Granularity.MINUTE},
    ],
)
def test_it_reads_raw_events_for_what_the_counts_do_not_keep(web_app, tracked_path, query):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE event_value_counts_hour SET events = events + 1000")
    asked = {
        "key": "path",
        "start": START,
        "end_exclusive": START + timedelta(hours=5),
        "granularity": Granularity.HOUR,
        **query,
    }

    assert breakdown_series(**asked) == raw_breakdown(**asked)
    assert breakdown_series(**asked).total < 1000


def test_it_reads_raw_events_where_a_value_was_too_long_to_keep(web_app, tracked_path):
    long_path = "/" + "x" * 2500
    events_store(
        web_app.application.pk,
        [
            Stored(
                str(uuid.uuid4()),
                START + timedelta(hours=1, seconds=i),
                "page",
                "view",
                {"path": long_path},
            )
            for i in range(60)
        ],
    )
    query = dict(
        key="path",
        start=START,
        end_exclusive=START + timedelta(days=2),
        granularity=Granularity.DAY,
        category="page",
    )

    breakdown = breakdown_series(**query)

    assert breakdown.series[0].value == long_path
    assert breakdown.series[0].total == 60
    assert breakdown == raw_breakdown(**query)
    assert_rollups_match_raw()


def test_it_counts_a_value_as_the_json_text_breakdowns_show(store, web_app):
    events_store(
        web_app.application.pk,
        [
            Stored(str(uuid.uuid4()), START + timedelta(minutes=i), "page", "view", data)
            for i, data in enumerate(
                [{"n": 49.0}, {"n": 49.0}, {"n": True}, {"n": "49.0"}, {"n": {"a": 1}}, {"n": None}]
            )
        ],
    )
    track("n")
    query = dict(
        key="n", start=START, end_exclusive=START + timedelta(days=1), granularity=Granularity.DAY
    )

    breakdown = breakdown_series(**query)

    assert {s.value: s.total for s in breakdown.series} == {
        "49.0": 3,
        "true": 1,
        json.dumps({"a": 1}): 1,
    }
    assert breakdown.other_total == 1
    assert breakdown == raw_breakdown(**query)
