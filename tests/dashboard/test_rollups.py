"""Through the real write path (API, queue, worker), every number a chart shows equals a
direct count over the raw events: the rollups never drift from what is stored."""

import random
import uuid
from collections import defaultdict
from datetime import timedelta

import pytest
from django.urls import reverse

from tests.dashboard.support import NOW, axis_time, figure_of, raw, raw_one, stacks

KINDS = [
    ("page interaction", "pageview"),
    ("page interaction", "cta click"),
    ("form interaction", "submit"),
    ("commerce", "purchase"),
]
# Each range as the overview resolves it at NOW, with its bucket.
RANGES = {
    "1h": (NOW.replace(second=0) - timedelta(minutes=59), timedelta(hours=1), "minute"),
    "24h": (NOW.replace(minute=0, second=0) - timedelta(hours=23), timedelta(days=1), "hour"),
    "7d": (NOW.replace(minute=0, second=0) - timedelta(hours=167), timedelta(days=7), "hour"),
    "30d": (
        NOW.replace(hour=0, minute=0, second=0) - timedelta(days=29),
        timedelta(days=30),
        "day",
    ),
}


@pytest.fixture
def posted(api, web_app, mobile_app, drain):
    """600 events over the last 70 days, posted in batches by two apps, one batch twice."""
    rng = random.Random(7)
    sessions = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(25)]
    batches: list[tuple[str, list[dict]]] = []
    for app in (web_app, mobile_app):
        events = []
        for i in range(300):
            category, name = rng.choice(KINDS)
            # A tenth in the last 90 minutes, so that the minute chart has some to show.
            spread = 90 * 60 if i % 10 == 0 else 70 * 86400
            at = NOW - timedelta(seconds=rng.randrange(spread)) + timedelta(minutes=2)
            events.append(
                {
                    "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "session_id": rng.choice(sessions),
                    "category": category,
                    "name": name,
                    "data": {"path": rng.choice(["/", "/pricing", "/about"])},
                    "timestamp": at.isoformat(),
                }
            )
        batches += [(app.writer, events[i : i + 100]) for i in range(0, 300, 100)]
    # An app retrying a batch it was not sure about must not count twice.
    batches.append(batches[0])
    for key, batch in batches:
        assert api.post(batch, key=key).status_code == 202
    drain()
    assert raw_one("SELECT count(*) FROM events") == 600


def raw_stack(start, end, unit: str, by: str, where: str = "true") -> dict:
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for bucket, key, count in raw(
        f"""SELECT date_trunc('{unit}', timestamp, 'UTC'), {by}, count(*) FROM events
        WHERE timestamp >= %s AND timestamp < %s AND {where} GROUP BY 1, 2""",
        [start, end],
    ):
        result[key][axis_time(bucket)] = count
    return dict(result)


def nonzero(figure: dict) -> dict:
    return {
        key: {x: y for x, y in values.items() if y}
        for key, values in stacks(figure).items()
        if any(values.values())
    }


@pytest.mark.parametrize("preset", sorted(RANGES))
def test_it_charts_what_was_stored(as_alice, posted, preset):
    start, span, unit = RANGES[preset]
    end, before = start + span, start - span

    overview = as_alice.get(reverse("dashboard:overview"), {"range": preset})
    category = as_alice.get(
        reverse("dashboard:category"), {"range": preset, "category": "page interaction"}
    )
    name = as_alice.get(reverse("dashboard:name"), {"range": preset, "name": "purchase"})

    def count(sql: str, a, b) -> int:
        return raw_one(f"SELECT {sql} FROM events WHERE timestamp >= %s AND timestamp < %s", [a, b])

    context = overview.context
    assert (context["events"].current, context["events"].previous) == (
        count("count(*)", start, end),
        count("count(*)", before, start),
    )
    assert (context["sessions"].current, context["sessions"].previous) == (
        count("count(DISTINCT session_id)", start, end),
        count("count(DISTINCT session_id)", before, start),
    )
    assert nonzero(figure_of(overview, "volume")) == raw_stack(start, end, unit, "category")
    top = {(r.category, r.name): r.events for r in context["top_names"]}
    assert top == {
        (c, n): k
        for c, n, k in raw(
            "SELECT category, name, count(*) FROM events WHERE timestamp >= %s "
            "AND timestamp < %s GROUP BY 1, 2",
            [start, end],
        )
    }
    names = raw_stack(start, end, unit, "name", "category = 'page interaction'")
    if names:
        assert nonzero(figure_of(category, "names")) == names
    else:
        assert "No events in this category in this range." in category.content.decode()
    assert name.context["total"] == raw_one(
        "SELECT count(*) FROM events WHERE name = 'purchase' AND timestamp >= %s "
        "AND timestamp < %s",
        [start, end],
    )


def test_it_lists_the_sessions_that_were_stored(as_alice, posted):
    response = as_alice.get(reverse("dashboard:sessions"), {"range": "30d", "order": "events"})

    start, span, _ = RANGES["30d"]
    expected = dict(
        raw(
            "SELECT session_id, count(*) FROM events WHERE timestamp >= %s AND timestamp < %s "
            "GROUP BY 1",
            [start, start + span],
        )
    )
    assert {s.session_id: s.events for s in response.context["sessions"]} == expected
