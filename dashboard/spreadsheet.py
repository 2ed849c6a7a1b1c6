"""CSV cells that a spreadsheet will not run as formulas.

A CSV opened in Excel, LibreOffice or Google Sheets turns a cell starting with `=`, `+`,
`-` or `@` (and, in some of them, a tab or a carriage return before one) into a formula,
so an event named `=HYPERLINK("https://evil.example", "open")` would become a live link in
an analyst's sheet. OWASP's advice is followed: such a cell gets a leading single quote,
which the spreadsheet shows as text. Only the CSV export does this; NDJSON is for programs
and stays verbatim.
"""

from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell_neutralise(value: object) -> object:
    """The cell as a spreadsheet must read it: text that could start a formula is quoted.

    Values that are not text (ids, instants) cannot start a formula and pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_row_neutralise(row: Iterable[object]) -> list[object]:
    return [csv_cell_neutralise(value) for value in row]


class RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class NeutralisingWriter:
    """A csv writer whose every row goes through csv_row_neutralise first."""

    def __init__(self, writer: RowWriter) -> None:
        self._writer = writer

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow(csv_row_neutralise(row))


def csv_writer_neutralising(writer: RowWriter) -> NeutralisingWriter:
    return NeutralisingWriter(writer)
