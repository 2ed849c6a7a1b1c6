"""What an event's `data` may hold, and how stored data is read back whatever it holds.

Every answer and export writes `data` with orjson, which refuses integers outside 64 bits
and nesting past 254 levels, and PostgreSQL's jsonb writes a large float back as an
integer (1e20 comes back as 100000000000000000000). So the API accepts only what survives
the whole path unchanged: numbers inside the signed 64-bit range, and at most
DATA_MAX_DEPTH levels of objects and arrays, which leaves ample room for the answers'
own envelopes. Events stored before these limits existed may break them; the read path
turns such values into ones every writer can write instead of failing.
"""

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

# The `data` object itself is level 1. Deep enough for any real payload, far enough under
# orjson's 254 levels for every answer that wraps data (an API page adds three).
DATA_MAX_DEPTH = 64
# The signed 64-bit range: what jsonb, orjson and the clients' languages all hold exactly.
DATA_INT_MIN = -(2**63)
DATA_INT_MAX = 2**63 - 1
# A field name longer than this is cut: a pointer 64 levels deep can be long.
MAX_POINTER_CHARS = 200


def data_pointer(path: Iterable[str | int]) -> str:
    """`data.form.first_name`, `data.items[2].sku`: where in the payload."""
    text = "data"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text if len(text) <= MAX_POINTER_CHARS else text[: MAX_POINTER_CHARS - 1] + "…"


# jsonb cannot hold NUL in a string: refusing it keeps the promise that an accepted event
# can be stored.
NUL_MESSAGE = "must not contain NUL (\\u0000)"


@dataclass(frozen=True)
class DataProblem:
    field: str
    message: str


def _number_fits(value: int | float) -> bool:
    if isinstance(value, float):
        # Strictly inside: -2**63 as a float is written -9.223372036854776e18, which
        # jsonb gives back as an integer just past the range.
        return math.isfinite(value) and DATA_INT_MIN < value < -DATA_INT_MIN
    return DATA_INT_MIN <= value <= DATA_INT_MAX


def data_problem(data: dict[str, Any]) -> DataProblem | None:
    """The first value of `data` that breaks the limits, or None when all fit.

    The walk stops at the first level past the limit, so a hostile body nested a thousand
    levels deep costs no more than one nested DATA_MAX_DEPTH levels.
    """
    path: list[str | int] = []

    def walk(value: Any, depth: int) -> DataProblem | None:
        kind = type(value)
        if kind is dict or kind is list:
            if depth > DATA_MAX_DEPTH:
                return DataProblem(
                    data_pointer(path),
                    f"nests objects and arrays more than {DATA_MAX_DEPTH} levels deep",
                )
            items = value.items() if kind is dict else enumerate(value)
            for key, item in items:
                path.append(key)
                if kind is dict and "\x00" in key:
                    return DataProblem(data_pointer(path), f"keys {NUL_MESSAGE}")
                problem = walk(item, depth + 1)
                path.pop()
                if problem is not None:
                    return problem
        elif kind is str and "\x00" in value:
            return DataProblem(data_pointer(path), NUL_MESSAGE)
        elif (kind is int or kind is float) and not _number_fits(value):
            return DataProblem(
                data_pointer(path),
                f"must be a finite number from {DATA_INT_MIN} to {DATA_INT_MAX}; "
                "send larger numbers as strings",
            )
        return None

    return walk(data, 1)


# In orjson's output, a number past the limits has 19 digits or more, or a positive
# exponent; a NUL is written \u0000. Text that has none of them cannot hold one, which
# spares most events the walk (text that merely spells a backslash and u0000 takes it).
MAYBE_BIG_NUMBER = re.compile(rb"\d{19}|e\+")
MAYBE_NUL = b"\\u0000"


class DataLimitExceeded(ValueError):
    def __init__(self, problem: DataProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def data_serialized(data: dict[str, Any]) -> bytes:
    """`data` as orjson writes it; raises DataLimitExceeded when it breaks the limits.

    Serializing comes first since the caller needs the bytes anyway and they tell, for
    the price of two counts and a search, whether the slower walk is needed at all.
    """
    try:
        serialized = orjson.dumps(data)
    except orjson.JSONEncodeError:
        serialized = None  # past orjson's own limits, so past ours: the walk names where
    suspect = (
        serialized is None
        or serialized.count(b"{") + serialized.count(b"[") > DATA_MAX_DEPTH
        or MAYBE_BIG_NUMBER.search(serialized) is not None
        or MAYBE_NUL in serialized
    )
    if suspect:
        problem = data_problem(data)
        if problem is not None:
            raise DataLimitExceeded(problem)
    if serialized is None:
        raise DataLimitExceeded(DataProblem("data", "cannot be written as JSON"))
    return serialized


def _readable(value: Any, depth: int) -> Any:
    if isinstance(value, dict | list):
        if depth > DATA_MAX_DEPTH:
            # The standard library writes any depth a stored row can have.
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        if isinstance(value, dict):
            return {key: _readable(item, depth + 1) for key, item in value.items()}
        return [_readable(item, depth + 1) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _number_fits(value):
        # Such a number arrived as a float (the API's parser reads big integers as
        # floats) and jsonb gave it back as an integer: the float is what was sent.
        try:
            return float(value)
        except OverflowError:
            return str(value)
    return value


def data_readable(data: Any) -> Any:
    """Stored `data` in a form every answer and export can write.

    Data within the limits is returned as it is, after one fast check by orjson inside as
    many levels as the deepest answer wraps it in. Data stored before the limits existed
    comes back with numbers outside 64 bits as floats and the parts nested past
    DATA_MAX_DEPTH as their JSON text.
    """
    try:
        orjson.dumps([[[[data]]]])
    except orjson.JSONEncodeError:
        return _readable(data, 1)
    return data


def data_from_json(text: str) -> Any:
    """data_readable of stored data given as the database's JSON text.

    orjson parses it in C and already reads integers outside 64 bits as floats, as
    data_readable would make them; what it refuses (a number beyond a double, nesting past
    its limit) goes the standard library's way."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = json.loads(text)
    return data_readable(data)
