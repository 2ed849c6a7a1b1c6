"""Time ranges as the filter bar names them ("24h", "7d", custom), resolved to UTC instants
aligned on the buckets of their granularity, so that every total, chart and comparison on a
page reads whole rollup buckets and covers the same instants as the raw-event lists."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from events.rollups import DAY, HOUR, Granularity

# Preset → (label, how many buckets, bucket size). The newest bucket is the one now falls
# in, so "Last 24 hours" is the current hour and the 23 before it: whole buckets, the
# newest still filling (and shown so).
ROLLING = {
    "1h": ("Last hour", 60, Granularity.MINUTE),
    "24h": ("Last 24 hours", 24, Granularity.HOUR),
    "7d": ("Last 7 days", 7 * 24, Granularity.HOUR),
    "30d": ("Last 30 days", 30, Granularity.DAY),
}
CALENDAR = {"today": "Today", "yesterday": "Yesterday"}
PRESET_CHOICES = [
    *((key, label) for key, (label, _, _) in ROLLING.items()),
    *CALENDAR.items(),
    ("custom", "Custom"),
]
ALL_TIME = ("all", "All time")
# Longest custom range: charts of a year or two stay a hundred weekly bars.
MAX_SPAN = timedelta(days=800)
# The instants a range the dashboard or the insights API is asked for may start and end
# on. A page also reads the period of the same length before the range and widens it to
# whole weeks, and a funnel reads a window past its end, which near year 1 or 9999 falls
# off the calendar Python can count; no event of a real product lies outside these.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, 23, 59, tzinfo=UTC)


def utc_now() -> datetime:
    """The one clock of the dashboard; tests set it to make presets deterministic."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class TimeRange:
    """[start, end) in UTC, both on bucket boundaries; no bounds for "all time"."""

    preset: str
    label: str
    start: datetime | None
    end: datetime | None
    granularity: Granularity
    now: datetime

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.end is not None

    @property
    def span(self) -> timedelta:
        assert self.start is not None and self.end is not None
        return self.end - self.start

    @property
    def previous_start(self) -> datetime:
        """Start of the period of the same length just before, to compare against."""
        assert self.start is not None
        return self.start - self.span

    @property
    def span_label(self) -> str:
        """The length of the range in words, for "vs previous 24 hours"."""
        hours = self.span / HOUR
        if hours <= 48:
            return f"{hours:g} hour" + ("s" if hours != 1 else "")
        days = self.span / DAY
        return f"{days:g} day" + ("s" if days != 1 else "")

    def buckets(self) -> list[datetime]:
        assert self.start is not None and self.end is not None
        return self.granularity.buckets(start=self.start, end=self.end)

    @property
    def incomplete_bucket(self) -> datetime | None:
        """The bucket still filling: the one now falls in, if the range reaches now."""
        if self.start is None or self.end is None or not self.start <= self.now < self.end:
            return None
        return self.granularity.floor(self.now)


def time_range_resolve(
    *,
    preset: str,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> TimeRange:
    """The range a preset means now; for "custom", [start, end) widened to whole buckets.
    The caller has validated the input (insights.forms)."""
    now = (now or utc_now()).astimezone(UTC)
    if preset in ROLLING:
        label, count, granularity = ROLLING[preset]
        range_end = granularity.floor(now) + granularity.step
        return TimeRange(
            preset, label, range_end - count * granularity.step, range_end, granularity, now
        )
    if preset == "today":
        # Up to the end of the current hour, so that the comparison is with the same hours
        # of yesterday, not with all of it.
        today = Granularity.DAY.floor(now)
        range_end = Granularity.HOUR.floor(now) + HOUR
        return TimeRange(preset, CALENDAR[preset], today, range_end, Granularity.HOUR, now)
    if preset == "yesterday":
        today = Granularity.DAY.floor(now)
        return TimeRange(preset, CALENDAR[preset], today - DAY, today, Granularity.HOUR, now)
    if preset == ALL_TIME[0]:
        return TimeRange(preset, ALL_TIME[1], None, None, Granularity.WEEK, now)
    if preset == "custom" and start is not None and end is not None:
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        granularity = Granularity.for_span(end - start)
        range_start, range_end = granularity.floor(start), granularity.ceil(end)
        label = f"{range_start:%Y-%m-%d %H:%M} \u2013 {range_end:%Y-%m-%d %H:%M} UTC"
        return TimeRange(preset, label, range_start, range_end, granularity, now)
    raise ValueError(f"unknown range {preset!r}")
