"""The API's count, read from the rollups and the edges of a range, equals a direct count
of the matching events for every kind of range."""

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from events.rollups import event_total
from events.selectors import event_list
from tests.lifecycle.support import put_events

START = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
KINDS = [("page", "view"), ("page", "click"), ("form", "submit")]


@pytest.fixture
def spread(web_app, mobile_app):
    """Events over about six hours, some on exact minute and hour boundaries."""
    rng = random.Random(11)
    for app in (web_app, mobile_app):
        for category, name in KINDS:
            instants = [START + timedelta(seconds=rng.randrange(6 * 3600)) for _ in range(60)]
            instants += [START + timedelta(hours=2), START + timedelta(minutes=75)]
            instants = [at + timedelta(microseconds=rng.randrange(1_000_000)) for at in instants]
            instants += [START + timedelta(hours=3)]
            put_events(app.application, instants, category=category, name=name)
    return web_app.application.pk


def moments(rng: random.Random) -> datetime | None:
    choice = rng.randrange(5)
    if choice == 0:
        return None
    base = START + timedelta(seconds=rng.randrange(-1800, 7 * 3600))
    if choice == 1:
        return base.replace(minute=0, second=0, microsecond=0)
    if choice == 2:
        return base.replace(second=0, microsecond=0)
    if choice == 3:
        return base
    return base + timedelta(microseconds=rng.randrange(1_000_000))


def test_it_equals_a_direct_count_for_every_kind_of_range(spread):
    rng = random.Random(5)
    checked = 0
    for _ in range(300):
        start, end = moments(rng), moments(rng)
        inclusive = rng.random() < 0.5
        category, name = rng.choice(
            [(None, None), ("page", None), ("page", "view"), ("form", None)]
        )
        filters = {
            "application_id": spread,
            "category": category,
            "name": name,
            "start": start,
            "end_inclusive": end if inclusive else None,
            "end_exclusive": None if inclusive else end,
        }
        expected = event_list(**filters).count()
        assert event_total(**filters) == expected, filters
        checked += expected > 0
    assert checked > 100  # most ranges held events: the sums were really tested


def test_an_event_exactly_at_an_inclusive_end_counts(spread):
    at = START + timedelta(hours=3)
    common = {"application_id": spread, "category": "page", "name": "view"}
    assert event_total(**common, start=at, end_inclusive=at) == 1
    assert event_total(**common, start=at, end_exclusive=at) == 0


def test_a_session_is_counted_directly(web_app):
    session = uuid.uuid4()
    put_events(web_app.application, [START, START + timedelta(hours=5)], session_id=session)
    assert event_total(application_id=web_app.application.pk, session_id=session) == 2
    assert (
        event_total(
            application_id=web_app.application.pk,
            session_id=session,
            start=START + timedelta(minutes=1),
        )
        == 1
    )
