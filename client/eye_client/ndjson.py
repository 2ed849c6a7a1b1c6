"""Reading `eye send`'s input: one event object per line of UTF-8 NDJSON.

Each problem is said in the words of the file, not of the parser: the line is then reported
and skipped, and the lines around it are still sent.
"""

import json
import math
import re
from typing import Any, NoReturn

EVENT_FIELDS = {"session_id", "category", "name", "data", "timestamp", "event_id"}
REQUIRED_FIELDS = ("session_id", "category", "name")
# What `eye query` prints besides an event's own fields: the application it was read from.
# The key that sends decides where an event goes, so a line read back and sent again
# leaves this behind (into the key's application, whichever it was read from).
READ_ONLY_FIELDS = {"application"}

UTF8_BOM = b"\xef\xbb\xbf"
# UTF-32's marks begin with UTF-16's, so one test finds both.
WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
# An escaped code unit of the surrogate range: only then can a string hold half a pair.
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


class NotUtf8(ValueError):
    """The whole input is in another encoding: no line of it can be read."""


def first_line(raw: bytes) -> bytes:
    """The first line without a UTF-8 byte-order mark (editors on Windows write one).
    Raises NotUtf8 for UTF-16 or UTF-32, which split into lines would be read as halves."""
    if raw.startswith(WIDE_BOMS) or b"\x00" in raw:
        raise NotUtf8(
            "the input is not UTF-8 (UTF-16 or UTF-32, by its first line); "
            "convert it first, e.g. iconv -f UTF-16 -t UTF-8"
        )
    return raw.removeprefix(UTF8_BOM)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text} is too large for JSON to carry")
    return value


def _not_json_number(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON value")


def _lone_surrogate(value: Any) -> str | None:
    if isinstance(value, str):
        return next((c for c in value if "\ud800" <= c <= "\udfff"), None)
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, list):
        return next((found for item in value if (found := _lone_surrogate(item))), None)
    return None


def parse_line(text: bytes) -> dict[str, Any]:
    """One NDJSON line as track()'s arguments; ValueError says what is wrong with it."""
    try:
        event = json.loads(text, parse_float=_finite, parse_constant=_not_json_number)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise ValueError("not a JSON object")
    if _ESCAPED_SURROGATE.search(text) and (half := _lone_surrogate(event)):
        raise ValueError(
            f"holds \\u{ord(half):04x}, half of a UTF-16 surrogate pair, which is not text"
        )
    for field in READ_ONLY_FIELDS:
        event.pop(field, None)
    unknown = sorted(set(event) - EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown field {', '.join(unknown)}; custom values belong in data")
    missing = [field for field in REQUIRED_FIELDS if field not in event]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    return event
