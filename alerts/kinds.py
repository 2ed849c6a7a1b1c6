"""What each kind of rule measures, and when its condition holds.

Every kind reads counts through the events selectors, which sum the rollups (never a scan
of raw events), over windows of whole minutes that end at the minute the check runs in;
silence, whose window ends at the check itself, reads its part-minutes through the
timestamp index. A funnel's conversion is the exception: sessions have no rollup, so it
reads its steps' events through the (category, name, timestamp) index, as the Funnels page
does, at a cost that grows with the events: it says so (`reads_raw_events`), so that the
check spaces it, and draws its sparkline when it measures, for the page to show. A new kind
is one more class here with `reads_raw_events`, `measure`, `holds`, `sparkline` and
`chart_path`, one more AlertRule.Kind choice and its form fields.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

from django.urls import reverse

from alerts.models import AlertRule
from events.funnels import Funnel, funnel_compute
from events.rollups import (
    DAY,
    HOUR,
    MINUTE,
    Granularity,
    event_counts_series,
    event_counts_total,
    event_total,
)
from events.stats import refusal_count
from events.stats import refusal_reason_counts as _reason_counts
from insights.definitions import (
    FunnelDefinition,
    InvalidDefinition,
    funnel_definition,
    funnel_form,
    insight_query,
)

WEEK = timedelta(weeks=1)
# Refusal reasons are few; more than this many kinds in an hour and the rarest are not seen.
REASONS_READ = 1_000
SPARK_POINTS = 24


class RuleUncheckable(ValueError):
    """What a rule watches is gone or no longer reads (a deleted saved funnel): staff have
    to change the rule, and until then each check says so."""


@dataclass(frozen=True)
class Measure:
    """What a check found: the value shown and compared, and the window it covers."""

    value: float | None
    start: datetime
    end: datetime
    # Drawn with the measure by a kind too costly to draw one at every view of the page.
    sparkline: list[float] | None = None


class RuleKind(Protocol):
    # Whether measuring reads raw events, at a cost that grows with them, not rollups.
    reads_raw_events: bool

    def measure(self, rule: AlertRule, *, now: datetime) -> Measure: ...

    def holds(self, rule: AlertRule, value: float | None) -> bool: ...

    def sparkline(self, rule: AlertRule, *, now: datetime) -> list[float]: ...

    def chart_path(self, rule: AlertRule) -> str: ...


def window_end(now: datetime) -> datetime:
    """Checks read whole minutes: the rollups cannot split one."""
    return Granularity.MINUTE.floor(now)


def _compare(rule: AlertRule, value: float | None) -> bool:
    if value is None:
        return False
    if rule.condition == AlertRule.Condition.BELOW:
        return value < rule.threshold
    if rule.condition == AlertRule.Condition.CHANGE:
        return abs(value) > rule.threshold
    return value > rule.threshold


def _query(path: str, **params: str | None) -> str:
    kept = {key: value for key, value in params.items() if value}
    return f"{path}?{urlencode(kept)}" if kept else path


class EventCount:
    """Events of a category (and optionally a name and an application) in the last hour or
    day; with the condition "change", the percentage change of that count against the
    same window a week earlier (None when that window held nothing)."""

    reads_raw_events = False

    def _count(self, rule: AlertRule, start: datetime, end: datetime) -> int:
        total = event_counts_total(
            start=start,
            end=end,
            application_id=rule.application_id,
            category=rule.category,
            name=rule.event_name or None,
        )
        assert total is not None, "windows are minute-aligned"
        return total

    def measure(self, rule: AlertRule, *, now: datetime) -> Measure:
        end = window_end(now)
        start = end - (DAY if rule.period == AlertRule.Period.DAY else HOUR)
        current = self._count(rule, start, end)
        if rule.condition != AlertRule.Condition.CHANGE:
            return Measure(current, start, end)
        before = self._count(rule, start - WEEK, end - WEEK)
        change = None if before == 0 else round((current - before) * 100 / before, 1)
        return Measure(change, start, end)

    def holds(self, rule: AlertRule, value: float | None) -> bool:
        return _compare(rule, value)

    def sparkline(self, rule: AlertRule, *, now: datetime) -> list[float]:
        """Hours of the last day, or days of the last two weeks: one read of the rollup."""
        granularity = Granularity.DAY if rule.period == AlertRule.Period.DAY else Granularity.HOUR
        end = granularity.floor(now) + granularity.step
        series = event_counts_series(
            start=end - granularity.step * (14 if granularity is Granularity.DAY else 24),
            end=end,
            granularity=granularity,
            group_by="category",
            application_id=rule.application_id,
            category=rule.category,
            name=rule.event_name or None,
        )
        return list(series.totals())

    def chart_path(self, rule: AlertRule) -> str:
        app = rule.application.name if rule.application_id else None
        rng = "30d" if rule.period == AlertRule.Period.DAY else "7d"
        if rule.event_name:
            return _query(
                reverse("dashboard:name"),
                category=rule.category,
                name=rule.event_name,
                app=app,
                range=rng,
            )
        return _query(reverse("dashboard:category"), category=rule.category, app=app, range=rng)


class Silence:
    """Events of the application in the `threshold` minutes up to the check, to the
    microsecond: the rule fires at 0. The whole minutes come from the minute rollup and
    only the part-minutes at the two ends from the events' timestamp index (events/rollups),
    so that silence is seen as soon as it has lasted, not up to a minute later."""

    reads_raw_events = False

    def measure(self, rule: AlertRule, *, now: datetime) -> Measure:
        start = now - MINUTE * max(1, round(rule.threshold))
        total = event_total(application_id=rule.application_id, start=start, end_exclusive=now)
        return Measure(total, start, now)

    def holds(self, rule: AlertRule, value: float | None) -> bool:
        return value == 0

    def sparkline(self, rule: AlertRule, *, now: datetime) -> list[float]:
        """Events per 5 minutes over the last two hours: one read of the minute rollup."""
        end = window_end(now)
        minutes = event_counts_series(
            start=end - MINUTE * 5 * SPARK_POINTS,
            end=end,
            granularity=Granularity.MINUTE,
            group_by="category",
            application_id=rule.application_id,
        ).totals()
        return [sum(minutes[i : i + 5]) for i in range(0, len(minutes), 5)]

    def chart_path(self, rule: AlertRule) -> str:
        return _query(reverse("dashboard:overview"), app=rule.application.name, range="1h")


class Refusals:
    """Requests the API refused in the last hour (of one application, for one reason)."""

    reads_raw_events = False

    def _count(self, rule: AlertRule, start: datetime, end: datetime) -> int:
        if not rule.reason:
            return refusal_count(start=start, end=end, application_id=rule.application_id)
        counts = _reason_counts(
            start=start, end=end, application_id=rule.application_id, limit=REASONS_READ
        )
        return next((row.refusals for row in counts if row.reason == rule.reason), 0)

    def measure(self, rule: AlertRule, *, now: datetime) -> Measure:
        end = window_end(now)
        return Measure(self._count(rule, end - HOUR, end), end - HOUR, end)

    def holds(self, rule: AlertRule, value: float | None) -> bool:
        return _compare(rule, value)

    def sparkline(self, rule: AlertRule, *, now: datetime) -> list[float]:
        end = Granularity.HOUR.floor(now) + HOUR
        return [
            self._count(rule, end - HOUR * (i + 1), end - HOUR * i)
            for i in reversed(range(SPARK_POINTS))
        ]

    def chart_path(self, rule: AlertRule) -> str:
        app = rule.application.name if rule.application_id else None
        return _query(reverse("dashboard:errors"), app=app, range="24h")


class FunnelConversion:
    """The percentage of the sessions that entered a saved funnel in the last `days` days
    (whole minutes up to the check) and reached its last step, by events.funnels as the
    Funnels page computes it; None while no session entered, so that an idle funnel does
    not fire."""

    reads_raw_events = True

    def _definition(self, rule: AlertRule) -> FunnelDefinition:
        """The saved funnel read as the Funnels page reads it, but with any kind its steps
        name rather than only the kinds stored lately, so that a funnel whose events
        stopped still reads, and fires, instead of turning invalid."""
        if rule.insight is None:
            raise RuleUncheckable("its saved funnel was deleted")
        form = funnel_form(query=insight_query(insight=rule.insight), any_kind=True)
        try:
            return funnel_definition(form=form)
        except InvalidDefinition:
            raise RuleUncheckable(
                f"its saved funnel “{rule.insight.name}” has no valid steps"
            ) from None

    def _compute(self, rule: AlertRule, *, start: datetime, end: datetime) -> Funnel:
        definition = self._definition(rule)
        return funnel_compute(
            steps=definition.steps,
            start=start,
            end=end,
            window=definition.window,
            application_id=definition.application_id,
        )

    def measure(self, rule: AlertRule, *, now: datetime) -> Measure:
        end = window_end(now)
        start = end - DAY * rule.days
        steps = self._compute(rule, start=start, end=end).steps
        value = round(steps[-1].conversion * 100, 1) if steps[0].sessions else None
        return Measure(value, start, end, sparkline=self._days_drawn(rule, now=now))

    def _days_drawn(self, rule: AlertRule, *, now: datetime) -> list[float]:
        """The conversion of each of the last two weeks' days, from one computation."""
        end = Granularity.DAY.floor(now) + DAY
        start = end - DAY * 14
        trend = self._compute(rule, start=start, end=end).trend
        days = {day.day: day.conversion * 100 for day in trend}
        return [days.get(day, 0.0) for day in Granularity.DAY.buckets(start=start, end=end)]

    def holds(self, rule: AlertRule, value: float | None) -> bool:
        return value is not None and value < rule.threshold

    def sparkline(self, rule: AlertRule, *, now: datetime) -> list[float]:
        """As the last check drew it: a funnel a page view computed would cost as much as
        the check. Empty for a funnel deleted or no longer valid, which that check names."""
        return rule.sparkline_kept

    def chart_path(self, rule: AlertRule) -> str:
        if rule.insight is None:
            return reverse("dashboard:funnels")
        rng = "24h" if rule.days <= 1 else "7d" if rule.days <= 7 else "30d"
        query = insight_query(insight=rule.insight, range_params={"range": rng})
        return f"{reverse('dashboard:funnels')}?{query.urlencode()}"


KINDS: dict[str, RuleKind] = {
    AlertRule.Kind.EVENTS: EventCount(),
    AlertRule.Kind.SILENCE: Silence(),
    AlertRule.Kind.REFUSALS: Refusals(),
    AlertRule.Kind.FUNNEL: FunnelConversion(),
}


def rule_kind(rule: AlertRule) -> RuleKind:
    return KINDS[rule.kind]


def rule_describe(rule: AlertRule) -> str:
    """The condition in words: "page interaction / signup per hour below 10 (web)"."""
    app = f" ({rule.application.name})" if rule.application_id else ""
    if rule.kind == AlertRule.Kind.SILENCE:
        return f"no events from {rule.application.name} for {rule.threshold:g} minutes"
    if rule.kind == AlertRule.Kind.REFUSALS:
        reason = f" for “{rule.reason}”" if rule.reason else ""
        return f"refused requests{reason} per hour above {rule.threshold:g}{app}"
    if rule.kind == AlertRule.Kind.FUNNEL:
        funnel = f"“{rule.insight.name}”" if rule.insight else "(deleted)"
        days = "day" if rule.days == 1 else f"{rule.days} days"
        return f"conversion of funnel {funnel} over the last {days} below {rule.threshold:g}%"
    what = rule.category + (f" / {rule.event_name}" if rule.event_name else "")
    if rule.condition == AlertRule.Condition.CHANGE:
        return (
            f"{what} per {rule.period} changed by more than {rule.threshold:g}% "
            f"against a week earlier{app}"
        )
    return f"{what} per {rule.period} {rule.condition} {rule.threshold:g}{app}"
