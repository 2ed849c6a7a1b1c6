"""How the CLI prints events: a table for people, JSON or NDJSON for programs."""

import json
import shutil
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

COLUMNS = ("timestamp", "session_id", "category", "name", "data")
# category and name are at most 255 characters; wider than this they would push the data
# off the screen, so they are cut with an ellipsis (json/ndjson give them whole).
MAX_TEXT_WIDTH = 32
MIN_DATA_WIDTH = 20


def compact(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def write_ndjson(events: Iterable[dict[str, Any]], out: TextIO) -> int:
    written = 0
    for event in events:
        out.write(json.dumps(event, ensure_ascii=False) + "\n")
        written += 1
    return written


def write_json(events: Iterable[dict[str, Any]], out: TextIO) -> int:
    """A JSON array, one event a line, written as the events arrive so that a long query
    shows progress and never holds every event in memory."""
    written = 0
    out.write("[")
    for event in events:
        out.write(",\n  " if written else "\n  ")
        out.write(json.dumps(event, ensure_ascii=False))
        written += 1
    out.write("\n]\n" if written else "]\n")
    return written


def table_rows(events: Iterable[dict[str, Any]]) -> Iterator[list[str]]:
    for event in events:
        yield [
            str(event.get("timestamp", "")),
            str(event.get("session_id", "")),
            clip(str(event.get("category", "")), MAX_TEXT_WIDTH),
            clip(str(event.get("name", "")), MAX_TEXT_WIDTH),
            compact(event.get("data", {})),
        ]


def write_table(events: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Aligned columns under a header; the data column is cut to the terminal's width."""
    rows = list(table_rows(events))
    if not rows:
        return 0
    header = [column.upper() for column in COLUMNS]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(COLUMNS) - 1)]
    used = sum(widths) + 2 * (len(widths))
    data_width = max(MIN_DATA_WIDTH, shutil.get_terminal_size((160, 24)).columns - used)
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, clip(row[-1], data_width)]).rstrip() + "\n")
    return len(rows)


def event_line(event: dict[str, Any]) -> str:
    """One event on one line, for `eye tail`."""
    return "  ".join(
        [
            str(event.get("timestamp", "")),
            str(event.get("session_id", "")),
            str(event.get("category", "")),
            str(event.get("name", "")),
            compact(event.get("data", {})),
        ]
    )
