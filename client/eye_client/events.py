"""Turning track()'s arguments into the JSON of one event.

Events are encoded once, in the caller's thread, when they are tracked: a value that cannot
be sent (an object json cannot encode, a NaN, a lone surrogate) fails there, where the
mistake is, rather than poisoning a whole batch in the background. The encoded bytes also
give the exact size that batching by body size needs.
"""

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

SessionId = str | uuid.UUID
Timestamp = datetime | str


def format_instant(value: datetime | date | str) -> str:
    """An instant as the API reads it. An aware datetime is converted to UTC; a naive one is
    sent without an offset, which the Eye reads as UTC; a date is sent as a bare date (the
    query filters accept those); a string is sent as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
            return value.isoformat(timespec="microseconds").replace("+00:00", "Z")
        return value.isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"expected a datetime or an ISO 8601 string, got {type(value).__name__}")


def utc_now() -> str:
    return format_instant(datetime.now(UTC))


def encode_event(
    *,
    session_id: SessionId,
    category: str,
    name: str,
    data: Mapping[str, Any] | None,
    timestamp: Timestamp | None,
    event_id: str | uuid.UUID | None,
) -> tuple[str, bytes]:
    """The event's id and its compact UTF-8 JSON.

    Only types are checked here; whether the values are acceptable (a real UUID, a
    timestamp not in the future, a name of at most 255 characters) is the Eye's call,
    and a refusal comes back through the client's failure report.
    """
    if not isinstance(session_id, str | uuid.UUID):
        raise TypeError(f"session_id must be a str or UUID, got {type(session_id).__name__}")
    for field, value in (("category", category), ("name", name)):
        if not isinstance(value, str):
            raise TypeError(f"{field} must be a str, got {type(value).__name__}")
    if data is not None and not isinstance(data, Mapping):
        raise TypeError(f"data must be a mapping (a JSON object), got {type(data).__name__}")
    if isinstance(timestamp, date) and not isinstance(timestamp, datetime):
        raise TypeError("timestamp must be a datetime, not a date: the Eye needs the time")
    if event_id is None:
        event_id = uuid.uuid4()
    elif not isinstance(event_id, str | uuid.UUID):
        raise TypeError(f"event_id must be a str or UUID, got {type(event_id).__name__}")
    event = {
        "event_id": str(event_id),
        "session_id": str(session_id),
        "category": category,
        "name": name,
        "data": dict(data) if data is not None else {},
        "timestamp": utc_now() if timestamp is None else format_instant(timestamp),
    }
    # allow_nan=False: NaN and Infinity are not JSON, and the Eye would refuse the whole
    # batch as a malformed body (400) instead of this one event.
    text = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return event["event_id"], text.encode("utf-8")


def decode_event(body: bytes) -> dict[str, Any]:
    return json.loads(body)
