"""Printing: `--json` writes one JSON document on stdout; otherwise rich tables for people.

On a terminal tables get a ruled header; into a pipe or a file they are plain columns that are never
wrapped, one row a line, so that grep and awk read them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported by the first table: `--json` never needs it
    from rich.console import Console
    from rich.table import Table

UNWRAPPED = 100_000  # the width of a pipe: no line is ever wrapped there


def _decimal_as_string(value: Any) -> Any:
    """json.dumps's fallback: a Decimal as its exact string ("12.50"), never a float."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=_decimal_as_string) + "\n")


def emit_json_line(document: Any) -> None:
    """One JSON document on one line (JSON Lines: a stream of documents, such as `batch show --watch`)."""
    sys.stdout.write(json.dumps(document, default=_decimal_as_string) + "\n")


def console() -> Console:
    """stdout as rich writes to it; text is printed as given (no markup, no highlighting)."""
    from rich.console import Console

    class _Stdout(Console):
        def on_broken_pipe(self) -> None:
            """The reader went away: let the command line end as a tool stopped by SIGPIPE (rich exits 1)."""
            raise BrokenPipeError

    terminal = sys.stdout.isatty()
    return _Stdout(
        file=sys.stdout,
        force_terminal=terminal,
        width=None if terminal else UNWRAPPED,
        markup=False,
        highlight=False,
        soft_wrap=True,  # a long line is the terminal's to wrap, not cut into two lines
        emoji=False,
    )


def new_table(*columns: str, right: Iterable[str] = ()) -> Table:
    """An empty table in the house style; the `right` columns (amounts, counts) are right-aligned."""
    from rich import box
    from rich.table import Table

    aligned = set(right)
    terminal = sys.stdout.isatty()
    table = Table(box=box.SIMPLE_HEAD if terminal else None, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in aligned else "left", no_wrap=not terminal)
    return table


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """The rows' `columns` as a table; "(none)" when there is no row."""
    if not rows:
        print("(none)")
        return
    shown = new_table(*columns)
    for row in rows:
        shown.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console().print(shown)


def fields(document: dict[str, Any]) -> None:
    """A document's plain values, one `key  value` a line, then its field errors, if any."""
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in document.items():
        if value is not None and not isinstance(value, list | dict):
            grid.add_row(key, str(value))
    out = console()
    out.print(grid)
    for error in document.get("errors") or []:
        out.print(f"  - {error['field'] or '(request)'}: {error['reason']}")
