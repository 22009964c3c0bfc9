"""What the commands share: the command's database, files named on the command line, the options
several commands take, and BadInput (exit status 2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from domain.errors import TillpostError
from frontends.output import emit_json, fields, table
from runtime.settings import Settings

if TYPE_CHECKING:  # imported when a command connects: a command's start pays for what it uses
    from services.unit_of_work import Database

F = TypeVar("F", bound=Callable[..., Any])

# Batch ids are PostgreSQL integers: a larger one is bad input, not a database error.
BATCH_ID = click.IntRange(1, 2**31 - 1)


class Seconds(click.FloatRange):
    """Seconds to wait: a number from 0 to 10,000,000, never NaN (which would wait for ever)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if seconds != seconds:  # NaN passes every range check
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


TIMEOUT = Seconds(0, 10**7)
WAIT_TIMEOUT = 3600.0
WAIT_TIMEOUT_HELP = "seconds --wait waits before it gives up, exit 1; the work goes on (default 3600 s = 1 hour)"
COMPANY_HELP = "the company whose code this is (needed when several companies use the code)"


class BadInput(TillpostError):
    """Input the user gave cannot be used (exit status 2)."""


def command_settings() -> Settings:
    """The settings the command line runs with (loaded once, by the `tillpost` group)."""
    config: Settings = click.get_current_context().obj
    return config


def database() -> Database:
    """The ledger's database for this command. One that cannot be reached fails here, before the
    command does anything (exit status 3); the engine is disposed of when the command ends."""
    from services.unit_of_work import connect

    context = click.get_current_context()
    db = connect(command_settings())
    context.call_on_close(db.dispose)
    db.answers()
    return db


def read_file(path: str) -> bytes:
    """The file's bytes; BadInput naming the file when it is missing, a directory or unreadable."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise BadInput(_file_problem(path, exc)) from None


def _file_problem(path: str, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file"
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a directory, not a file"
    return f"{path}: cannot be read ({exc.strerror or exc})"


def show(document: Any, as_json: bool, columns: Sequence[str] | None = None) -> int:
    """One JSON document, or for people a table (with `columns`) or the document's fields."""
    if as_json:
        emit_json(document)
    elif columns is not None:
        table(document, columns)
    else:
        fields(document)
    return 0


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="print one JSON document on stdout")(command)


def company_option(command: F) -> F:
    return click.option("--company", help=COMPANY_HELP)(command)


def wait_options(wait_help: str) -> Callable[[F], F]:
    """--wait (what it waits for: `wait_help`) and --timeout."""

    def add(command: F) -> F:
        command = click.option("--timeout", type=TIMEOUT, default=WAIT_TIMEOUT, help=WAIT_TIMEOUT_HELP)(command)
        return click.option("--wait", is_flag=True, help=wait_help)(command)

    return add
