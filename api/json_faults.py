"""Where a body that orjson refused goes wrong, said in the API's terms.

orjson refuses a number past a double's range (`1e400`, an integer of hundreds of digits)
and a lone UTF-16 surrogate (`"\\ud800"`), both valid JSON text, with a message about the
character it stopped at. The body is refused either way; for these two the client is told
which field, and which event of a batch, as for any other value past the limits. The
standard library reads them, and reads only bodies already refused, so it costs nothing
to the bodies that are taken. Past about 1,000 levels of nesting neither reads a body at
all, and a scan of its tokens names where it passes the depth that data may have.
"""

import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any

from api.errors import ApiError
from events.payloads import DATA_MAX_DEPTH, data_pointer, data_problem

# Digits past which an integer is read as a float (infinite, for the longest): the
# standard library refuses to read integers of more than 4,300 digits at all.
_LONG_INTEGER_DIGITS = 19


def _integer(text: str) -> int | float:
    return float(text) if len(text.lstrip("-")) >= _LONG_INTEGER_DIGITS else int(text)


def json_fault(body: bytes) -> ApiError | None:
    """A 422 naming the first value at fault in each event that holds one, or None when
    the body is not JSON at all. Those events' other faults, and the other events', are
    named once these are mended: only orjson's parse is validated further."""
    try:
        payload = json.loads(body, parse_int=_integer)
    except ValueError:
        return None
    except RecursionError:
        return _nesting_fault(body)
    events = payload if isinstance(payload, list) else [payload]
    errors = []
    for index, event in enumerate(events):
        fault = _event_fault(event) if isinstance(event, dict) else None
        if fault is not None:
            errors.append(_fault_entry(fault, index if isinstance(payload, list) else None))
    return ApiError(422, errors) if errors else None


def _fault_entry(fault: tuple[str, str], index: int | None) -> dict[str, Any]:
    field, message = fault
    error: dict[str, Any] = {"field": field, "message": message}
    return error if index is None else {"index": index, **error}


# A JSON string (its escapes included) or a structural character; numbers, literals and
# white space between them do not change the nesting.
_STRING_TEXT = rb'"(?:[^"\\]|\\.)*"'
_STRING = re.compile(_STRING_TEXT)
_TOKEN = re.compile(_STRING_TEXT + rb"|[\[\]{}:,]")


def _nesting_fault(body: bytes) -> ApiError | None:
    """For a body nested past what any parser here reads (about 1,000 levels): the event,
    and the place in its field, where the nesting passes the depth data may have; None
    when that place is not inside an event's field. A scan of the tokens up to there,
    holding for each open object its current key and for each array its current index."""
    # Not JSON at all unless its brackets pair up, strings aside (a body cut short, or
    # only opening brackets): said as any other body that is not JSON. Counted in C, so a
    # megabyte of brackets costs a few milliseconds.
    bare = _STRING.sub(b'""', body)
    if bare.count(b"[") != bare.count(b"]") or bare.count(b"{") != bare.count(b"}"):
        return None
    open_: list[list[Any]] = []  # [is_array, current key or index]
    last_string = b'""'
    for match in _TOKEN.finditer(body):
        token = match.group()
        if token[:1] == b'"':
            last_string = token
        elif token in (b"{", b"["):
            open_.append([token == b"[", 0 if token == b"[" else None])
            batch = open_[0][0]
            event_at = 1 if batch else 0
            # The event's field holds the containers past it: data itself is level 1.
            levels = open_[event_at + 1 :]
            if len(levels) > DATA_MAX_DEPTH:
                field = open_[event_at][1]
                # Not inside an event's field (a batch of arrays): no place to name.
                if open_[event_at][0] or not isinstance(field, str):
                    return None
                path = [level[1] for level in levels[:-1]]
                place = data_pointer(path) if field == "data" else field
                message = f"nests objects and arrays more than {DATA_MAX_DEPTH} levels deep"
                return ApiError(
                    422, [_fault_entry((place, message), open_[0][1] if batch else None)]
                )
        elif token in (b"}", b"]"):
            if not open_:
                return None
            open_.pop()
        elif token == b":" and open_ and not open_[-1][0]:
            try:
                open_[-1][1] = json.loads(last_string)
            except ValueError:
                return None
        elif token == b"," and open_ and open_[-1][0]:
            open_[-1][1] += 1
    return None


def _place(field: str, where: list[str | int]) -> str:
    """`data.items[1].price` inside data, as its limits name places; `steps.0.where.value`
    elsewhere, as validation names them (a funnel's body goes through here too)."""
    return data_pointer(where) if field == "data" else ".".join([field, *map(str, where)])


def _event_fault(event: dict[str, Any]) -> tuple[str, str] | None:
    for field, value in event.items():
        where = [] if _has_surrogate(field) else _first_at(value, [], _lone_surrogate)
        if where is not None:
            # The place itself may hold the surrogate, which no JSON answer can carry.
            shown = _place(field, where).encode("utf-8", "backslashreplace").decode()
            return shown, "must be valid Unicode: it holds a lone surrogate (\\ud800 to \\udfff)"
        # Inside data its own limits say it (below), with the range data's numbers have.
        where = None if field == "data" else _first_at(value, [], _infinite)
        if where is not None:
            return _place(field, where), "must be a finite number: it is past any double"
    data = event.get("data")
    if isinstance(data, dict):
        problem = data_problem(data)
        if problem is not None:
            return problem.field, problem.message
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _lone_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _has_surrogate(value)


def _infinite(value: Any) -> bool:
    """A number the standard library read as infinite (`1e400`)."""
    return isinstance(value, float) and math.isinf(value)


def _first_at(
    value: Any, path: list[str | int], at_fault: Callable[[Any], bool]
) -> list[str | int] | None:
    """The path to the first value (or key) `at_fault` says is, or None. Past the depth
    data may have, the walk stops: data_problem names that fault instead."""
    if at_fault(value):
        return path
    if len(path) > DATA_MAX_DEPTH:
        return None
    if isinstance(value, dict):
        items: Iterable[tuple[str | int, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        if at_fault(key):
            return [*path, key]
        found = _first_at(item, [*path, key], at_fault)
        if found is not None:
            return found
    return None
