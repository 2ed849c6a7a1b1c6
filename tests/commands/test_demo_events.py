"""events.demo, the generator behind `make demo`: a living product's traffic (no hour
that looks like an incident, no hole, up to the present minute) and its story (a landing
page, pricing, a sign-up form, an account, with drop-off at every step)."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events.demo import demo_events, demo_hour_weight
from events.services import EventRow

HOUR = timedelta(hours=1)
# Neighbouring hours' weights differ by at most 2:1 (events.demo). The false spike this
# guards against held four to five times any other hour.
PLAUSIBLE_MULTIPLE = 2.5
# Sessions active in an hour are close to Poisson, so their count is the measure: events
# come in sessions of one to forty and would make the night's counts too bunched for any
# fixed margin. Allowed: this many standard deviations of the difference, and a few more.
DEVIATIONS = 5
SLACK = 5
# As busy as `make demo`'s million events over 30 days, so that an hour is more than noise.
EVENTS_PER_HOUR = 1500


def hour_sessions(rows: list[EventRow]) -> Counter:
    """Per whole hour, the sessions with an event in it."""
    active = {
        (row.timestamp.replace(minute=0, second=0, microsecond=0), row.session_id) for row in rows
    }
    return Counter(hour for hour, _ in active)


def plausibly_within(busier: int, quieter: int) -> bool:
    """Whether `busier` sessions could come from a rate at most PLAUSIBLE_MULTIPLE times
    that of `quieter`: busier - k * quieter has mean below 0 then, and variance about
    busier + k² * quieter."""
    k = PLAUSIBLE_MULTIPLE
    return busier - k * quieter <= DEVIATIONS * (busier + k * k * quieter) ** 0.5 + SLACK


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    days=st.integers(min_value=1, max_value=2),
    end=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_it_holds_no_hour_many_times_its_neighbours(seed: int, days: int, end: datetime):
    rows = list(demo_events(count=days * 24 * EVENTS_PER_HOUR, days=days, seed=seed, end=end))
    counts = hour_sessions(rows)
    newest = end.replace(minute=0, second=0, microsecond=0)
    # Whole hours only: the first may have begun before the demo, the newest is still filling.
    hours = [newest - HOUR * back for back in range(days * 24 - 1, 0, -1)]
    for before, hour, after in zip(hours, hours[1:], hours[2:], strict=False):
        # A spike stands above both neighbours, a gap below both.
        higher, lower = max(counts[before], counts[after]), min(counts[before], counts[after])
        assert plausibly_within(counts[hour], higher), (hour, sorted(counts.items()))
        assert plausibly_within(lower, counts[hour]), (hour, sorted(counts.items()))


def sessions_active(rows: list[EventRow], since: datetime, until: datetime) -> int:
    return len({row.session_id for row in rows if since <= row.timestamp < until})


def mean_weight(since: datetime, until: datetime) -> float:
    """The demo's traffic weight averaged minute by minute, so that a half hour across
    two hours weighs as both do."""
    minutes = int((until - since) / timedelta(minutes=1))
    return sum(demo_hour_weight(since + timedelta(minutes=m)) for m in range(minutes)) / minutes


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(min_value=0, max_value=2**32),
    end=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
)
def test_it_keeps_the_newest_minutes_as_busy_as_their_hour(seed: int, end: datetime):
    rows = list(demo_events(count=60_000, days=1, seed=seed, end=end))
    assert max(row.timestamp for row in rows) < end
    # Sessions, not events: each session is in a half hour or not, independently of the
    # others, so the counts are Poisson and five standard deviations bound them for any
    # seed; events come in bunches of one to forty and would need a far looser bound. A
    # session still under way at the end counts as one all the same.
    half = HOUR / 2
    newest = sessions_active(rows, end - half, end)
    before = sessions_active(rows, end - HOUR, end - half)
    ratio = mean_weight(end - half, end) / mean_weight(end - HOUR, end - half)
    spread = 5 * (newest + ratio**2 * before) ** 0.5 + 5
    assert abs(newest - ratio * before) <= spread, (newest, before, ratio)


def sessions_of(rows: list[EventRow]) -> dict[str, list[tuple[str, str, dict]]]:
    sessions: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: row.timestamp):
        sessions[row.session_id].append((row.category, row.name, orjson.loads(row.data_json)))
    return sessions


def reached(events: list[tuple[str, str, dict]], steps: list[tuple[str, str, dict]]) -> int:
    """How many steps of the funnel, in order, these events reach."""
    step = 0
    for category, name, data in events:
        if step < len(steps):
            want_category, want_name, where = steps[step]
            if (category, name) == (want_category, want_name) and where.items() <= data.items():
                step += 1
    return step


def test_it_tells_a_funnel_story_with_drop_off_at_every_step():
    end = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    sessions = sessions_of(list(demo_events(count=40_000, days=7, seed=3, end=end)))
    steps = [
        ("page interaction", "pageview", {"path": "/"}),
        ("page interaction", "pageview", {"path": "/pricing"}),
        ("form interaction", "submit", {"form": "signup"}),
        ("account", "sign up", {}),
        ("form interaction", "submit", {"form": "onboarding"}),
    ]
    furthest = Counter(reached(events, steps) for events in sessions.values())
    at_least = [sum(n for k, n in furthest.items() if k >= step) for step in range(1, 6)]

    # Most sessions land on "/"; each step loses some of the sessions, and keeps a tenth.
    assert at_least[0] > 0.7 * len(sessions)
    for previous, step in pairwise(at_least):
        assert 0.1 * previous < step < previous, at_least
    # Every account comes from a submitted sign-up form after the pricing page.
    assert at_least[3] == sum(
        1 for events in sessions.values() if ("account", "sign up") in [e[:2] for e in events]
    )


def test_it_gives_breakdowns_by_path_plan_and_referrer_a_clear_leader():
    end = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    rows = list(demo_events(count=20_000, days=3, seed=4, end=end))
    data = [(row.category, row.name, orjson.loads(row.data_json)) for row in rows]
    paths = Counter(d["path"] for c, n, d in data if (c, n) == ("page interaction", "pageview"))
    plans = Counter(d["plan"] for c, n, d in data if (c, n) == ("account", "sign up"))
    referrers = Counter(d["referrer"] for _, _, d in data)

    assert paths.most_common(1)[0][0] == "/"
    assert {"/pricing", "/signup", "/products"} <= set(paths)
    assert [plan for plan, _ in plans.most_common()] == ["free", "pro", "team"]
    assert referrers.most_common(1)[0][0] == "google"
    assert all("referrer" in d and "host" in d for _, _, d in data)


def test_it_keeps_every_session_in_time_order_and_under_an_hour():
    end = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    rows = list(demo_events(count=5_000, days=2, seed=6, end=end))
    by_session: dict[str, list[datetime]] = defaultdict(list)
    for row in rows:
        by_session[row.session_id].append(row.timestamp)
    for times in by_session.values():
        assert times == sorted(times)
        assert times[-1] - times[0] < HOUR


def test_it_tells_the_same_story_as_the_benchmarks_generator(db):
    """bench/demo_sql.py makes demo events inside the database for the benchmarks: the
    same kinds, in the same proportions, with the same data keys."""
    from django.db import connection

    from bench.demo_sql import events_sql, hours_weighted

    end = datetime(2026, 3, 4, 15, tzinfo=UTC)
    sessions = 4000
    params = {
        **hours_weighted(end=end, days=3),
        **{"first": 1, "last": sessions, "sessions": sessions, "limit": 10**7},
    }
    with connection.cursor() as cursor:
        cursor.execute(events_sql(7), params)
        made = [(category, name, orjson.loads(data)) for _, _, _, _, category, name, data in cursor]
    rows = list(demo_events(count=len(made), days=3, seed=7, end=end))
    ours = [(row.category, row.name, orjson.loads(row.data_json)) for row in rows]

    assert abs(len(made) / sessions - len(ours) / len({row.session_id for row in rows})) < 0.5
    theirs_kinds, our_kinds = Counter(e[:2] for e in made), Counter(e[:2] for e in ours)
    assert set(theirs_kinds) == set(our_kinds)
    for kind, count in our_kinds.items():
        assert abs(theirs_kinds[kind] - count) <= 0.25 * count + 30, kind
    keys = {(c, n, frozenset(d)) for c, n, d in made}
    assert keys == {(c, n, frozenset(d)) for c, n, d in ours}
