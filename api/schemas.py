"""What the API accepts and returns. Validation lives here, so every rule of the contract
has one place, and errors name the field that broke it."""

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from django.conf import settings
from ninja import Field, Schema
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    WithJsonSchema,
    field_serializer,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from events.payloads import (
    DATA_INT_MAX,
    DATA_INT_MIN,
    DATA_MAX_DEPTH,
    DataLimitExceeded,
    data_readable,
    data_serialized,
)

# ISO 8601 date and time with `T` or a space between them, seconds optional, up to six
# fraction digits, then `Z`, `±HH:MM` or nothing. fromisoformat() alone is looser (it takes
# week dates, `±HHMM` and more), so the shape is checked first.
TIMESTAMP_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?", re.IGNORECASE
)
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# The same shapes for the OpenAPI schema, which has no flags, with the ranges of each part
# (years 1 to 9999, no leap second); the value is trimmed first.
_JSON_DATE = r"(000[1-9]|00[1-9]\d|0[1-9]\d\d|[1-9]\d{3})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_JSON_TIME = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)?"
TIMESTAMP_JSON_PATTERN = rf"^\s*{_JSON_DATE}[Tt ]{_JSON_TIME}\s*$"
DATE_JSON_PATTERN = rf"^\s*{_JSON_DATE}\s*$"
NO_NUL_PATTERN = "^[^\\x00]*$"
# pydantic resolves every $ref it writes, and `data`'s points into the OpenAPI schema's
# components, which it does not know: this mark is replaced by the $ref in eye.api.
COMPONENT_MARK = "x-eye-component"


def parse_uuid(value: Any) -> uuid.UUID:
    """A UUID in any usual spelling: any case, with or without hyphens, braces or urn:uuid:."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("uuid_type", "must be a UUID string")
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise PydanticCustomError("uuid_parsing", "is not a valid UUID") from None


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 instant; one without an offset is UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif not isinstance(value, str):
        raise PydanticCustomError("timestamp_type", "must be an ISO 8601 string")
    elif not TIMESTAMP_PATTERN.fullmatch(value.strip()):
        raise PydanticCustomError(
            "timestamp_format",
            "must be ISO 8601, like 2021-01-01T09:15:27.243860Z or 2021-01-01 09:15:27",
        )
    else:
        try:
            parsed = datetime.fromisoformat(value.strip().upper())
        except ValueError as exc:
            # Python's own words, but for the offset's, which speak of timedelta objects.
            reason = str(exc)
            if reason.startswith("offset must be"):
                reason = "the UTC offset must be less than 24 hours either way"
            raise PydanticCustomError(
                "timestamp_value", "is not a real date and time: {reason}", {"reason": reason}
            ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "timestamp_range", "is out of range once converted to UTC"
        ) from None


def text_field(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "must be a string")
    stripped = value.strip()
    if not stripped:
        raise PydanticCustomError("string_empty", "must not be empty or only white space")
    if len(stripped) > 255:
        raise PydanticCustomError("string_too_long", "must be at most 255 characters")
    if "\x00" in stripped:
        # PostgreSQL text cannot hold NUL; refusing here keeps the promise that an
        # accepted event is storable.
        raise PydanticCustomError("string_nul", "must not contain NUL characters")
    return stripped


CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: Any) -> str:
    """A UUID in any usual spelling, as its canonical text. Most clients already send that
    form, which a pattern confirms for a fraction of the cost of a UUID object."""
    if isinstance(value, str) and CANONICAL_UUID.fullmatch(value):
        return value
    return str(parse_uuid(value))


# Kept as text: the worker stores text, so a UUID object would only be made to be undone.
EventUUID = Annotated[
    str, BeforeValidator(canonical_uuid), WithJsonSchema({"type": "string", "format": "uuid"})
]
# What text_field accepts, for the OpenAPI schema: 1 to 255 characters once surrounding
# white space is trimmed, none of them NUL. White space is spelt out as str.strip() sees it
# (it counts U+001C to U+001F, which Unicode does not), so that every regex engine agrees.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
TEXT_PATTERN = rf"^[{_SPACE}]*[^{_SPACE}\x00]([^\x00]{{0,253}}[^{_SPACE}\x00])?[{_SPACE}]*$"
EventText = Annotated[
    str,
    BeforeValidator(text_field),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "pattern": TEXT_PATTERN,
            "description": "1 to 255 characters after trimming surrounding white space; no NUL.",
        }
    ),
]


class EventIn(BaseModel):
    """One event as an app sends it.

    A plain pydantic model, not a ninja Schema: a Schema wraps every validation in a
    converter for Django model instances, which cost more than the validation itself on
    a batch of events, and an event only ever arrives as JSON.
    """

    # Unknown fields are refused, not dropped: a misspelt `timestmap` must not vanish.
    model_config = ConfigDict(extra="forbid")

    session_id: EventUUID
    category: EventText
    name: EventText
    data: Annotated[
        dict[str, Any], WithJsonSchema({"type": "object", COMPONENT_MARK: "EventData"})
    ] = Field(default_factory=dict)
    # Before the timestamp, which is corrected by the offset this event got when first sent.
    event_id: EventUUID | None = None
    timestamp: Annotated[
        datetime,
        WithJsonSchema(
            {
                "type": "string",
                "pattern": TIMESTAMP_JSON_PATTERN,
                "description": "ISO 8601, `T` or a space between date and time, up to "
                "microseconds, optional `Z` or `±HH:MM` (none means UTC); at most "
                "EYE_MAX_FUTURE_SECONDS ahead of the time the request arrives.",
            }
        ),
    ]

    @field_validator("data", mode="before")
    @classmethod
    def data_is_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise PydanticCustomError("data_type", "must be a JSON object")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def timestamp_not_in_future(cls, value: Any, info: ValidationInfo) -> datetime:
        limits = ingest_limits(info)
        parsed = parse_timestamp(value)
        offset = limits.clock.of(info.data.get("event_id"))
        if offset:
            try:
                parsed += offset
            except OverflowError:
                raise PydanticCustomError(
                    "timestamp_range", "is out of range once corrected by sent_at"
                ) from None
        if parsed > limits.latest_timestamp:
            raise PydanticCustomError(
                "timestamp_future",
                "is more than {allowance} seconds in the future",
                {"allowance": limits.future_allowance},
            )
        return parsed

    @field_validator("data")
    @classmethod
    def data_fits(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        try:
            serialized = data_serialized(value)
        except DataLimitExceeded as exc:
            field, message = exc.problem.field, exc.problem.message
            raise PydanticCustomError("data_value", message, {"field": field}) from None
        limit = ingest_limits(info).max_data_bytes
        if len(serialized) > limit:
            raise PydanticCustomError(
                "data_too_large", "must be at most {limit} bytes serialized", {"limit": limit}
            )
        return value


@dataclass(frozen=True)
class ClockOffsets:
    """How far a client's clock is behind ours, added to its events' timestamps
    (api/browser.py): the offset measured for this request, and for events sent before,
    by their event_id, the one they got then."""

    measured: timedelta = timedelta(0)
    pinned: Mapping[str, timedelta] = dataclass_field(default_factory=dict)

    def of(self, event_id: str | None) -> timedelta:
        return self.pinned.get(event_id, self.measured) if event_id else self.measured


# A request that says nothing of its clock.
NO_CLOCK_OFFSETS = ClockOffsets()


@dataclass(frozen=True)
class IngestLimits:
    """The limits one request's events are judged by, read from settings once per request
    rather than once per event (a settings read costs more than the check itself)."""

    latest_timestamp: datetime
    future_allowance: int
    max_data_bytes: int
    # Added to each timestamp before it is judged, when the request says when it was sent.
    clock: ClockOffsets = NO_CLOCK_OFFSETS

    @classmethod
    def at(cls, now: datetime, *, clock: ClockOffsets = NO_CLOCK_OFFSETS) -> "IngestLimits":
        # Judged against the moment the request arrived, so a slow batch does not move
        # the line.
        allowance = settings.EYE_MAX_FUTURE_SECONDS
        return cls(
            now + timedelta(seconds=allowance),
            allowance,
            settings.EYE_MAX_DATA_BYTES,
            clock,
        )


def ingest_limits(info: ValidationInfo) -> IngestLimits:
    """The request's limits, passed in the validation context as `limits`; validation
    without them (outside a request) uses the settings as they are now."""
    limits = (info.context or {}).get("limits")
    return limits if limits is not None else IngestLimits.at(datetime.now(UTC))


class EventOut(BaseModel):
    # A plain pydantic model reading the Event's attributes itself: ninja's Schema would
    # wrap every row in its Django getter, about a third of a 50-row page's time.
    model_config = ConfigDict(from_attributes=True)

    session_id: uuid.UUID
    timestamp: datetime
    category: str
    name: str
    data: dict[str, Any]
    # After the seed's keys, which stay as they were: the id POST returned (or was sent),
    # so that a client can tell two events apart without comparing their contents.
    event_id: uuid.UUID = Field(description="The event's id, as POST returned it.")
    # Two applications may hold events alike in everything else (the same event sent to
    # both); a key that reads every application tells them apart by this.
    application: str = Field(description="The name of the application that sent it.")

    @field_validator("data")
    @classmethod
    def data_writable(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Rows stored before the limits on data existed must not break a page.
        return data_readable(value)

    @field_serializer("timestamp")
    def timestamp_utc(self, value: datetime) -> str:
        return timestamp_json(value)


def timestamp_json(value: datetime) -> str:
    """An event's timestamp as answers write it: UTC, to the microsecond, with Z."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# Query parameters are text whenever they are given; their OpenAPI schemas say its format.
QueryUUID = Annotated[str | None, WithJsonSchema({"type": "string", "format": "uuid"})]
QueryText = Annotated[str | None, WithJsonSchema({"type": "string", "pattern": NO_NUL_PATTERN})]
QueryInstant = Annotated[
    str | None,
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"pattern": TIMESTAMP_JSON_PATTERN}, {"pattern": DATE_JSON_PATTERN}],
        }
    ),
]


class EventQuery(Schema):
    """Filters of GET /api/event/. Each is exact, and all combine."""

    application: QueryText = Field(
        None,
        description="An application's name, for a key that reads every application; "
        "other keys read their own only.",
    )
    session_id: QueryUUID = Field(None, description="A UUID; exact match.")
    category: QueryText = Field(None, description="Exact match.")
    name: QueryText = Field(None, description="Exact match.")
    timestamp_start: QueryInstant = Field(
        None, description="At or after this instant; a bare date means 00:00:00 UTC that day."
    )
    timestamp_after: QueryInstant = Field(None, description="Alias of timestamp_start.")
    timestamp_end: QueryInstant = Field(
        None, description="At or before this instant; a bare date means the whole of that day."
    )
    timestamp_before: QueryInstant = Field(None, description="Alias of timestamp_end.")

    @field_validator("application", "category", "name")
    @classmethod
    def storable_text(cls, value: str | None) -> str | None:
        # No stored value holds NUL (the API refuses it), and PostgreSQL cannot even
        # compare with one: say so rather than fail.
        if value is not None and "\x00" in value:
            raise PydanticCustomError("string_nul", "must not contain NUL characters")
        return value

    @field_validator("session_id")
    @classmethod
    def session_id_is_uuid(cls, value: str | None) -> str | None:
        return None if value is None else str(parse_uuid(value))

    @field_validator("timestamp_start", "timestamp_after", "timestamp_end", "timestamp_before")
    @classmethod
    def instant_or_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if DATE_PATTERN.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise PydanticCustomError("date_value", "is not a real date") from None
        else:
            parse_timestamp(value)
        return value

    @model_validator(mode="after")
    def range_is_ordered(self) -> "EventQuery":
        for name, alias in (
            ("timestamp_start", "timestamp_after"),
            ("timestamp_end", "timestamp_before"),
        ):
            given, aliased = getattr(self, name), getattr(self, alias)
            if given and aliased and given != aliased:
                raise PydanticCustomError(
                    "alias_conflict",
                    "conflicts with {name}; give only one of them",
                    {"field": alias, "name": name},
                )
        start = self.start
        empty_range = start is not None and (
            (self.end_inclusive is not None and start > self.end_inclusive)
            or (self.end_exclusive is not None and start >= self.end_exclusive)
        )
        if empty_range:
            raise PydanticCustomError(
                "range_order",
                "must not be after the end of the range",
                {"field": "timestamp_start"},
            )
        return self

    def selection(self) -> dict[str, Any]:
        """The filters as events.selectors and events.rollups take them."""
        return {
            "session_id": self.session_id,
            "category": self.category,
            "name": self.name,
            "start": self.start,
            "end_inclusive": self.end_inclusive,
            "end_exclusive": self.end_exclusive,
        }

    @property
    def start(self) -> datetime | None:
        value = self.timestamp_start or self.timestamp_after
        if value is None:
            return None
        if DATE_PATTERN.fullmatch(value):
            return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
        return parse_timestamp(value)

    @property
    def end_inclusive(self) -> datetime | None:
        value = self.timestamp_end or self.timestamp_before
        if value is None or DATE_PATTERN.fullmatch(value):
            return None
        return parse_timestamp(value)

    @property
    def end_exclusive(self) -> datetime | None:
        """A bare end date covers that whole day: everything before the next midnight."""
        value = self.timestamp_end or self.timestamp_before
        if value is None or not DATE_PATTERN.fullmatch(value):
            return None
        day = date.fromisoformat(value)
        if day == date.max:
            return None
        return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


# `data` as the OpenAPI schema's components describe it: what events.payloads accepts,
# but for its depth and size, which a JSON Schema cannot state.
DATA_COMPONENTS = {
    "EventData": {
        "type": "object",
        "description": f"At most {settings.EYE_MAX_DATA_BYTES} bytes serialized and "
        f"{DATA_MAX_DEPTH} levels of objects and arrays; numbers inside the signed "
        "64-bit range (larger ones as strings); no NUL.",
        "propertyNames": {"pattern": NO_NUL_PATTERN},
        "additionalProperties": {"$ref": "#/components/schemas/EventDataValue"},
    },
    "EventDataValue": {
        "anyOf": [
            {"type": "null"},
            {"type": "boolean"},
            {"type": "integer", "minimum": DATA_INT_MIN, "maximum": DATA_INT_MAX},
            {"type": "number", "exclusiveMinimum": DATA_INT_MIN, "exclusiveMaximum": -DATA_INT_MIN},
            {"type": "string", "pattern": NO_NUL_PATTERN},
            {"type": "array", "items": {"$ref": "#/components/schemas/EventDataValue"}},
            {"$ref": "#/components/schemas/EventData"},
        ]
    },
}


class AcceptedOut(Schema):
    success: bool = True
    accepted: int = Field(description="How many events were queued.")
    event_ids: list[uuid.UUID] = Field(description="The id of each event, in body order.")


class ErrorDetail(Schema):
    index: int | None = Field(None, description="Position of the event in a batch body.")
    field: str | None = Field(None, description="The field or parameter at fault.")
    message: str


class ErrorOut(Schema):
    success: bool = False
    errors: list[ErrorDetail]
