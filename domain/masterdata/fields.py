"""Reading a master-data CSV file: the header, each row with its physical line number, and its cells.

Problems are collected, never raised one at a time, so a shop sees every bad row of a file at once.
A problem is (line, "column: reason"); the header is line 1.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TextIO

from sqlalchemy import Numeric

from domain.csvrows import Row, csv_rows

Problem = tuple[int, str]

_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
# Control characters other than tab and line breaks: PostgreSQL cannot store NUL in text at all, and
# the others would print as garbage (or drive the terminal) on a receipt.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0 and C1, and the line separators
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


@dataclass(frozen=True)
class Record:
    line: int
    cells: dict[str, str]


def read_records(
    stream: TextIO, required: Collection[str], optional: Collection[str] = ()
) -> tuple[list[Record], list[Problem]]:
    """The file's data rows keyed by column name, with the problems of its header and of each row.

    Column names match ignoring case, surrounding spaces and a byte order mark (spreadsheet exports);
    cells are stripped of surrounding spaces, and blank lines are skipped. A row the csv module
    cannot read, or with more or fewer fields than the header, is a problem of its own line.
    """
    rows = csv_rows(stream)
    header = next(rows, None)
    if header is None:
        return [], [(1, "the file is empty: a header row is required")]
    if header.problem is not None:
        return [], [(header.line, f"not a readable CSV header: {header.problem}")]
    columns = [name.strip().lstrip("\ufeff").lower() for name in header.cells]
    problems = _header_problems(columns, required, optional)
    if problems:
        return [], [(header.line, p) for p in problems]
    return _records(rows, columns)


def _header_problems(columns: list[str], required: Collection[str], optional: Collection[str]) -> list[str]:
    known = [*required, *optional]
    problems = [f"{name}: missing column" for name in required if name not in columns]
    problems += [f"{name}: column appears more than once" for name in sorted(set(columns)) if columns.count(name) > 1]
    problems += [
        f"{name or '(blank)'}: unknown column (expected {', '.join(known)})" for name in columns if name not in known
    ]
    return problems


def _records(rows: Iterator[Row], columns: list[str]) -> tuple[list[Record], list[Problem]]:
    records: list[Record] = []
    problems: list[Problem] = []
    for row in rows:
        if row.problem is not None:
            problems.append((row.line, row.problem))
            continue
        records.append(Record(row.line, {name: cell.strip() for name, cell in zip(columns, row.cells, strict=True)}))
    return records, problems


class Fields:
    """One row's cells, read column by column; each bad cell adds a problem and reading goes on."""

    def __init__(self, record: Record) -> None:
        self.cells = record.cells
        self.problems: list[str] = []

    def has(self, column: str) -> bool:
        return column in self.cells

    def fail(self, column: str, reason: str) -> None:
        self.problems.append(f"{column}: {reason}")

    def text(self, column: str, limit: int | None, *, required: bool = True) -> str:
        """A one-line text: a line break or a tab in it is a control character too (only `lines`
        may span lines)."""
        value = self.cells.get(column, "")
        if required and not value:
            self.fail(column, "is required")
        else:
            self.bounded(column, value, limit, _CONTROL_OR_BREAK)
        return value

    def lines(self, column: str, limit: int | None) -> str:
        """A text that may span lines (a quoted CSV cell may hold line breaks): each line trimmed,
        blank lines dropped, the lines joined with a newline."""
        value = "\n".join(line.strip() for line in self.cells.get(column, "").splitlines() if line.strip())
        self.bounded(column, value, limit)
        return value

    def bounded(self, column: str, value: str, limit: int | None, control_chars: re.Pattern[str] | None = None) -> None:
        control = (control_chars or _CONTROL).search(value)
        if control is not None:
            self.fail(column, f"holds a control character (U+{ord(control.group()):04X})")
        elif limit is not None and len(value) > limit:
            self.fail(column, f"is longer than {limit} characters")

    def decimal(
        self, column: str, kind: Numeric[Decimal], *, negative: bool = False, most: Decimal | None = None
    ) -> Decimal | None:
        """The cell as an exact Decimal fitting the column type (and, in size, at most `most`), or
        None when it is empty."""
        raw = self.cells.get(column, "")
        if not raw:
            return None
        if not _DECIMAL.fullmatch(raw):
            self.fail(column, f"is not a decimal number ({raw!r})")
            return None
        value = Decimal(raw)
        places = kind.scale or 0
        if len(raw.partition(".")[2]) > places:
            self.fail(column, f"has more than {places} decimal places ({raw})")
        elif value.adjusted() >= (kind.precision or 0) - places:
            self.fail(column, f"is too large ({raw})")
        elif value < 0 and not negative:
            self.fail(column, f"must not be negative ({raw})")
        elif most is not None and abs(value) > most:
            self.fail(column, f"is more than {most:,}, the most it may be ({raw})")
        return value

    def boolean(self, column: str, default: bool) -> bool:
        raw = self.cells.get(column, "").lower()
        if raw in _TRUE or raw in _FALSE:
            return raw in _TRUE
        if raw:
            self.fail(column, f"must be true or false ({raw!r})")
        return default
