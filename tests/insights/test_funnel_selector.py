"""events.funnels against a plain Python computation of the funnel's definition
(tests/insights/support.py), on random sessions: steps skipped, done out of order, repeated,
on the same timestamp, or finished after the window. Runs on TimescaleDB and on plain
PostgreSQL alike (make test runs the suite on both)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.funnels import FunnelStep, funnel_compute, funnel_with_dropoff
from tests.insights.support import Stored, events_store, events_truncate, funnel_expected

START = datetime(2026, 5, 4, 22, 0, tzinfo=UTC)
END = START + timedelta(hours=4)
KINDS = [
    ("page", "view", {"path": "/"}),
    ("page", "view", {"path": "/pricing"}),
    ("account", "sign up", {"plan": "pro"}),
    ("account", "sign up", {"plan": "free"}),
    ("form", "submit", {}),
]
STEPS = [
    FunnelStep("page", "view", "path", "/"),
    FunnelStep("page", "view"),
    FunnelStep("page", "view", "path", "/pricing"),
    FunnelStep("account", "sign up"),
    FunnelStep("account", "sign up", "plan", "pro"),
    FunnelStep("form", "submit"),
]

# Offsets in seconds from START: some before it, some past END, and few enough distinct
# values that events of one session often share a timestamp.
offsets = st.one_of(
    st.integers(min_value=-3600, max_value=6 * 3600),
    st.sampled_from([0, 60, 61, 600, 4 * 3600 - 1, 4 * 3600]),
)
event_shapes = st.tuples(st.integers(0, len(KINDS) - 1), offsets, st.integers(0, 999_999))
sessions = st.lists(st.lists(event_shapes, min_size=1, max_size=8), min_size=1, max_size=12)
funnels = st.lists(st.sampled_from(STEPS), min_size=2, max_size=4)
windows = st.sampled_from([timedelta(seconds=60), timedelta(minutes=30), timedelta(hours=3)])


def _events(drawn: list[list[tuple[int, int, int]]], tied: bool) -> list[Stored]:
    events = []
    for shapes in drawn:
        session = str(uuid.uuid4())
        for kind, offset, micros in shapes:
            category, name, data = KINDS[kind]
            at = START + timedelta(seconds=offset, microseconds=0 if tied else micros)
            events.append(Stored(session, at, category, name, data))
    return events


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(drawn=sessions, steps=funnels, window=windows, tied=st.booleans())
def test_it_matches_the_definition_on_random_sessions(store, web_app, drawn, steps, window, tied):
    events_truncate()
    events = _events(drawn, tied)
    events_store(web_app.application.pk, events)
    expected = funnel_expected(events, steps, start=START, end=END, window=window)

    funnel = funnel_compute(
        steps=steps, start=START, end=END, window=window, application_id=web_app.application.pk
    )

    assert [s.sessions for s in funnel.steps] == expected.sessions
    for k, step in enumerate(funnel.steps):
        assert step.median_seconds_from_previous == pytest.approx(expected.median[k])
        assert step.p90_seconds_from_previous == pytest.approx(expected.p90[k])
        first = expected.sessions[0]
        previous = expected.sessions[k - 1] if k else first
        assert step.conversion == pytest.approx(expected.sessions[k] / first if first else 0)
        assert step.conversion_from_previous == pytest.approx(
            expected.sessions[k] / previous if previous else 0
        )
    assert {d.day: (d.started, d.converted) for d in funnel.trend} == expected.trend
    for stop in range(1, len(steps)):
        beside, dropped = funnel_with_dropoff(
            steps=steps, start=START, end=END, window=window, step=stop, limit=1000
        )
        assert beside == funnel
        assert {d.session_id for d in dropped} == expected.stopped.get(stop, set())
        newest_first = sorted(dropped, key=lambda d: d.session_id)
        newest_first.sort(key=lambda d: d.last_step_at, reverse=True)
        assert dropped == newest_first


def _session(app_id: int, *kinds_at: tuple[str, str, int]) -> str:
    session = str(uuid.uuid4())
    events_store(
        app_id,
        [
            Stored(session, START + timedelta(seconds=s), category, name)
            for category, name, s in kinds_at
        ],
    )
    return session


def test_it_counts_skips_disorder_and_late_finishes(web_app):
    app = web_app.application.pk
    _session(app, ("page", "view", 0), ("account", "sign up", 10), ("form", "submit", 20))
    # Skips the sign-up: stays at step 1.
    _session(app, ("page", "view", 0), ("form", "submit", 20))
    # Signs up before viewing: the sign-up does not count.
    _session(app, ("account", "sign up", 0), ("page", "view", 10))
    # Submits two hours after the view: outside a one-hour window.
    _session(app, ("page", "view", 0), ("account", "sign up", 60), ("form", "submit", 7200))
    # Viewed before the range: not in the funnel at all.
    _session(app, ("page", "view", -10), ("account", "sign up", 10))
    steps = [
        FunnelStep("page", "view"),
        FunnelStep("account", "sign up"),
        FunnelStep("form", "submit"),
    ]

    funnel = funnel_compute(steps=steps, start=START, end=END, window=timedelta(hours=1))

    assert [s.sessions for s in funnel.steps] == [4, 2, 1]
    assert [s.median_seconds_from_previous for s in funnel.steps] == [None, 35.0, 10.0]
    assert funnel.steps[1].conversion == 0.5
    assert funnel.steps[2].conversion_from_previous == 0.5
    assert funnel.dropoffs() == [2, 1]


def test_it_counts_a_step_exactly_at_the_end_of_the_window(web_app):
    app = web_app.application.pk
    _session(app, ("page", "view", 0), ("form", "submit", 60))
    _session(app, ("page", "view", 0), ("form", "submit", 61))
    steps = [FunnelStep("page", "view"), FunnelStep("form", "submit")]

    funnel = funnel_compute(steps=steps, start=START, end=END, window=timedelta(seconds=60))

    assert [s.sessions for s in funnel.steps] == [2, 1]


def test_it_counts_only_the_application_asked_for(web_app, mobile_app):
    _session(web_app.application.pk, ("page", "view", 0), ("form", "submit", 5))
    _session(mobile_app.application.pk, ("page", "view", 0), ("form", "submit", 5))
    steps = [FunnelStep("page", "view"), FunnelStep("form", "submit")]

    only_web = funnel_compute(
        steps=steps, start=START, end=END, application_id=web_app.application.pk
    )
    both = funnel_compute(steps=steps, start=START, end=END)

    assert [s.sessions for s in only_web.steps] == [1, 1]
    assert [s.sessions for s in both.steps] == [2, 2]


def test_over_every_application_a_session_id_is_one_session(web_app, mobile_app):
    # A browser's view in one application, the server's submit in another, one session id.
    session = _session(web_app.application.pk, ("page", "view", 0))
    events_store(
        mobile_app.application.pk,
        [Stored(session, START + timedelta(seconds=5), "form", "submit")],
    )
    steps = [FunnelStep("page", "view"), FunnelStep("form", "submit")]

    both = funnel_compute(steps=steps, start=START, end=END)
    only_web = funnel_compute(
        steps=steps, start=START, end=END, application_id=web_app.application.pk
    )

    assert [s.sessions for s in both.steps] == [1, 1]
    assert both.steps[1].median_seconds_from_previous == 5.0
    assert [s.sessions for s in only_web.steps] == [1, 0]


def test_it_refuses_a_funnel_it_cannot_compute(web_app):
    one = [FunnelStep("page", "view")]
    with pytest.raises(ValueError, match="steps"):
        funnel_compute(steps=one, start=START, end=END)
    two = one * 2
    with pytest.raises(ValueError, match="window"):
        funnel_compute(steps=two, start=START, end=END, window=timedelta(days=91))
    with pytest.raises(ValueError, match="range"):
        funnel_compute(steps=two, start=END, end=START)
