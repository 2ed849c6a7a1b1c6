"""How the CLI prints events: a table for people, JSON or NDJSON for programs."""

import json
import shutil
import unicodedata
from collections.abc import Iterable
from typing import Any, TextIO

COLUMNS = ("timestamp", "session_id", "category", "name", "data")
# With a key that reads every application, events alike but for their application would
# print as one row twice: the table then says whose each one is.
COLUMNS_OF_MANY_APPLICATIONS = ("timestamp", "session_id", "application", *COLUMNS[2:])
# category and name are at most 255 characters; wider than this they would push the data
# off the screen, so they are cut with an ellipsis (json/ndjson give them whole).
MAX_TEXT_WIDTH = 32
MIN_DATA_WIDTH = 20


# Anyone holding a write key (a publishable one is in every visitor's browser) chooses
# the text of categories, names and data. Printed raw, an ESC or a C1 control would be a
# terminal command (moving the cursor, retitling the window, writing the clipboard) and a
# bidi override would show text in another order than it has; the human formats spell
# them as escapes. JSON and NDJSON are for programs and keep every character.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escaped(character: str) -> str:
    if character in BIDI_CONTROLS or unicodedata.category(character) == "Cc":
        code = ord(character)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return character


def printable(text: str) -> str:
    """Text safe to print to a terminal: control characters spelt as escapes."""
    if text.isprintable():
        return text
    return "".join(_escaped(character) for character in text)


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


def table_cell(event: dict[str, Any], column: str) -> str:
    if column == "data":
        return printable(compact(event.get("data", {})))
    text = printable(str(event.get(column, "")))
    return text if column in ("timestamp", "session_id") else clip(text, MAX_TEXT_WIDTH)


def write_table(events: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Aligned columns under a header; the data column is cut to the terminal's width."""
    listed = list(events)
    if not listed:
        return 0
    many = len({event.get("application") for event in listed}) > 1
    columns = COLUMNS_OF_MANY_APPLICATIONS if many else COLUMNS
    rows = [[table_cell(event, column) for column in columns] for event in listed]
    header = [column.upper() for column in columns]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(columns) - 1)]
    used = sum(widths) + 2 * (len(widths))
    data_width = max(MIN_DATA_WIDTH, shutil.get_terminal_size((160, 24)).columns - used)
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        out.write("  ".join([*cells, clip(row[-1], data_width)]).rstrip() + "\n")
    return len(rows)


def event_line(event: dict[str, Any]) -> str:
    """One event on one line, for `eye tail`."""
    return printable(
        "  ".join(
            [
                str(event.get("timestamp", "")),
                str(event.get("session_id", "")),
                str(event.get("category", "")),
                str(event.get("name", "")),
                compact(event.get("data", {})),
            ]
        )
    )
