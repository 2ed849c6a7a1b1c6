"""What the insights API accepts and returns (POST /api/insights/funnel/, GET
/api/insights/trend/). Validation lives here, and errors name the field that broke it."""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from api.schemas import EventText, parse_timestamp, text_field
from events.funnels import MAX_STEPS, MAX_WINDOW, MIN_STEPS, FunnelStep
from insights.ranges import EARLIEST, LATEST


def range_instant(value: Any) -> datetime:
    """An ISO 8601 instant that a range may start or end on: the dashboard's bounds."""
    moment = parse_timestamp(value)
    if not EARLIEST <= moment <= LATEST:
        raise PydanticCustomError(
            "timestamp_range",
            "must be from {earliest} to {latest}",
            {"earliest": f"{EARLIEST:%Y-%m-%d}", "latest": f"{LATEST:%Y-%m-%dT%H:%MZ}"},
        )
    return moment


Instant = Annotated[datetime, BeforeValidator(range_instant)]
# Written as the event API writes times: UTC, with a Z.
UtcOut = Annotated[
    datetime,
    PlainSerializer(
        lambda value: value.astimezone(UTC).isoformat().replace("+00:00", "Z"), return_type=str
    ),
]
# The longest series one trend answers: a year of days, or 2,000 hours.
MAX_BUCKETS = 2000


def data_value_text(value: Any) -> str:
    """A condition's value as Explore's filter takes it: text, which also matches the same
    number, boolean or null stored as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:
            # No stored text holds one (events with it are refused), and PostgreSQL's
            # jsonb cannot be asked for it.
            raise PydanticCustomError("string_nul", "must not contain NUL characters")
        return value
    raise PydanticCustomError("value_type", "must be a string, number, boolean or null")


class WhereIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: EventText
    value: Annotated[str, BeforeValidator(data_value_text)]


class FunnelStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: EventText
    name: EventText
    where: WhereIn | None = None

    def step(self) -> FunnelStep:
        where = self.where
        return FunnelStep(
            self.category,
            self.name,
            where.key if where else None,
            where.value if where else None,
        )


class FunnelIn(BaseModel):
    """A funnel: 2 to 10 steps, the range its step-1 events lie in, and the window."""

    model_config = ConfigDict(extra="forbid")

    steps: list[FunnelStepIn] = Field(min_length=MIN_STEPS, max_length=MAX_STEPS)
    start: Instant
    end: Instant
    # Strict: a JSON true is not one second, nor "86400" a number.
    window_seconds: int = Field(86400, ge=1, le=int(MAX_WINDOW.total_seconds()), strict=True)

    @model_validator(mode="after")
    def range_is_ordered(self) -> "FunnelIn":
        if self.end <= self.start:
            raise PydanticCustomError("range_order", "must be after start", {"field": "end"})
        return self

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)


class FunnelStepOut(Schema):
    category: str
    name: str
    sessions: int
    conversion: float
    conversion_from_previous: float
    median_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None


class FunnelDayOut(Schema):
    day: UtcOut
    sessions: int
    converted: int
    conversion: float


class FunnelOut(Schema):
    steps: list[FunnelStepOut]
    trend: list[FunnelDayOut] = Field(
        description="Per UTC day of the step-1 event: sessions that entered and converted."
    )


class TrendQuery(Schema):
    """GET /api/insights/trend/: one kind's events per bucket, optionally by a data key."""

    category: str
    name: str | None = None
    start: str
    end: str
    interval: Literal["hour", "day", "week"] = "day"
    breakdown: str | None = Field(
        None, description="A data key; dotted paths reach into objects (form.plan)."
    )

    @field_validator("category", "name", "breakdown")
    @classmethod
    def storable_text(cls, value: str | None) -> str | None:
        return None if value is None else text_field(value)

    @field_validator("start", "end")
    @classmethod
    def instant(cls, value: str) -> str:
        range_instant(value)
        return value

    @model_validator(mode="after")
    def range_is_sized(self) -> "TrendQuery":
        if self.end_at <= self.start_at:
            raise PydanticCustomError("range_order", "must be after start", {"field": "end"})
        step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
        if (self.end_at - self.start_at) / step[self.interval] > MAX_BUCKETS:
            raise PydanticCustomError(
                "too_many_buckets",
                "gives more than {limit} buckets for this range; choose a longer interval",
                {"field": "interval", "limit": MAX_BUCKETS},
            )
        return self

    @property
    def start_at(self) -> datetime:
        return range_instant(self.start)

    @property
    def end_at(self) -> datetime:
        return range_instant(self.end)


class OtherOut(Schema):
    counts: list[int]
    total: int


class TrendSeriesOut(OtherOut):
    value: str | None


class TrendOut(Schema):
    interval: str
    buckets: list[UtcOut]
    series: list[TrendSeriesOut]
    other: OtherOut
    total: int
