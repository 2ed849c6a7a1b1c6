"""What each kind measures, at its edges: silence to the second, counts over whole minutes."""

from datetime import UTC, datetime, timedelta

from alerts.kinds import KINDS
from alerts.models import AlertRule
from tests.dashboard.support import Put

LAST = datetime(2026, 3, 18, 14, 25, 50, tzinfo=UTC)


def test_silence_holds_exactly_when_the_minutes_have_passed(web_app, mobile_app):
    Put()(web_app, LAST)
    Put()(mobile_app, LAST + timedelta(minutes=3))  # another application's events do not count
    rule = AlertRule(kind="silence", application=web_app.application, threshold=5)
    silence = KINDS["silence"]

    before = silence.measure(rule, now=LAST + timedelta(minutes=5, seconds=-1))
    after = silence.measure(rule, now=LAST + timedelta(minutes=5, seconds=1))

    assert (before.value, silence.holds(rule, before.value)) == (1, False)
    assert (after.value, silence.holds(rule, after.value)) == (0, True)


def test_a_count_covers_the_whole_minutes_before_the_check(web_app):
    put = Put()
    for at in (LAST - timedelta(minutes=61), LAST - timedelta(minutes=30), LAST):
        put(web_app, at, category="commerce", name="buy")
    rule = AlertRule(kind="events", category="commerce", period="hour", threshold=1)

    measure = KINDS["events"].measure(rule, now=LAST + timedelta(seconds=5))

    # [13:25, 14:25): the event of 14:25:50 is in the minute still filling, 13:24:50 before.
    assert (measure.start, measure.end) == (
        datetime(2026, 3, 18, 13, 25, tzinfo=UTC),
        datetime(2026, 3, 18, 14, 25, tzinfo=UTC),
    )
    assert measure.value == 1
