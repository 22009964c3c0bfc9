"""CSV rows with the lines they span; a row the csv module cannot read is one bad row, not a bad file.

A quoted cell may hold line breaks, so a row may span several lines. A row that cannot be read (a
cell larger than the csv module's limit, text after a closing quote, a quote never closed) or that
has more or fewer fields than the header is reported on its first line, and the lines after that
one are read again as rows of their own: a stray quote never swallows the rows that follow it.
Memory holds one row at a time.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from typing import NamedTuple, TextIO

Line = tuple[int, str]
_SALVAGED = 2000  # characters of an unreadable row's first line kept, and read for its first cells


class Row(NamedTuple):  # a tuple: one is made for every row of a file of millions
    line: int  # where the row starts
    last_line: int  # where it ends
    cells: list[str]  # of an unreadable row: what its first line holds, as far as it can be read
    problem: str | None = None
    text: str = ""  # of an unreadable row: its first line as written (up to 2,000 characters)


def csv_rows(stream: TextIO) -> Iterator[Row]:
    """The header, then each data row; rows whose cells are all blank are skipped."""
    lines = _Lines(stream)
    reader = csv.reader(lines, strict=True)
    width: int | None = None
    while True:
        lines.taken = []
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _unreadable(lines.taken, _problem(exc, lines.taken))
            lines.read_again(lines.taken[1:])
            continue
        if not (cells and cells[0].strip()) and not any(cell.strip() for cell in cells):
            continue  # blank (the first test is the quick one: a row's first cell is rarely blank)
        if width is not None and len(cells) != width:
            yield _unreadable(lines.taken, f"has {len(cells)} fields, the header has {width}", cells)
            lines.read_again(lines.taken[1:])
            continue
        width = len(cells) if width is None else width
        yield Row(lines.taken[0][0], lines.taken[-1][0], cells)


def _unreadable(taken: list[Line], problem: str, cells: list[str] | None = None) -> Row:
    text = taken[0][1][:_SALVAGED]
    return Row(taken[0][0], taken[-1][0], _salvage(text) if cells is None else cells, problem, text)


def _salvage(text: str) -> list[str]:
    try:
        return next(csv.reader([text]), [])
    except csv.Error:
        return []


def _problem(exc: csv.Error, taken: list[Line]) -> str:
    said = str(exc)
    if said.startswith("field larger than field limit"):
        runs_on = f" (a quoted cell runs on to line {taken[-1][0]})" if len(taken) > 1 else ""
        return f"a cell is larger than the limit of {csv.field_size_limit()} characters{runs_on}"
    if said.startswith("',' expected after '\"'"):
        return "a quoted cell has text after its closing quote"
    if said == "unexpected end of data":
        return "a quoted cell is never closed"
    return f"cannot be read as CSV ({said})"


class _Lines:
    """The stream's lines, numbered; the lines of the current row (`taken`) are kept to be read again."""

    def __init__(self, stream: TextIO) -> None:
        self._numbered = enumerate(stream, start=1)
        self._again: deque[Line] = deque()
        self.taken: list[Line] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._again.popleft() if self._again else next(self._numbered)
        self.taken.append(line)
        return line[1]

    def read_again(self, lines: list[Line]) -> None:
        self._again.extendleft(reversed(lines))
