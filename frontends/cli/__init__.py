"""`tillpost`: the command line of ../shared/CLI.md (click), a command group per module.

Exit status: 0 success, 1 a check or command failed, 2 bad usage or bad input, 3 PostgreSQL or the
broker could not be reached, 130 interrupted (Ctrl-C), 141 stdout's reader went away (SIGPIPE).
With no URL configured, every command starts (or reuses) the embedded servers of TILLPOST_HOME.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import click

from domain.errors import AmbiguousCode, ImportFailed, NotFound, NotMigrated, ZReportRefused
from frontends import outages
from frontends.cli.common import BadInput
from runtime import settings
from runtime.flower_auth import FlowerAuthError

# The failures a person can act on, and the exit status each ends the command with. Each class is
# cheap to import (no SQLAlchemy, no Celery): every command's start pays for this table.
EXIT_STATUS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    ((NotFound, ZReportRefused), 1),
    ((ImportFailed, BadInput, AmbiguousCode, settings.UnsupportedUrl, FlowerAuthError), 2),
    ((outages.ServiceUnavailable, NotMigrated), 3),
)

# Every command: the module of frontends/cli/ that defines it (in its COMMANDS), and its one-line
# help for `tillpost --help`. A command's module is imported only when that command runs, so
# `tillpost batch show` does not pay for Celery, the HTTP intake or the reports
# (tests/unit/test_cli_commands.py checks this table against the commands themselves).
COMMANDS: dict[str, tuple[str, str]] = {
    "batch": ("batches", "Batch state, counts, totals, reconciliation."),
    "cash": ("reports", "The cash drawer."),
    "check": ("checks", "Ledger invariants; exit 1 on any violation."),
    "customer": ("sales", "Loyalty balance and ledger."),
    "db": ("masterdata", "Database migrations."),
    "demo": ("processes", "From nothing to a posted day, with a summary."),
    "export": ("masterdata", "Write master data as CSV to stdout."),
    "followups": ("batches", "Follow-ups (reorder, loyalty, receipts) that failed."),
    "import": ("masterdata", "Upsert master data from a CSV file."),
    "intake": (
        "processes",
        "The HTTP intake alone, on 127.0.0.1 (POST /v1/sales, the Shopify and WooCommerce webhooks).",
    ),
    "post": ("batches", "Post a batch file (.jsonl or .csv)."),
    "receipt": ("sales", "The stored receipt of the sale TRANSACTION_NUMBER (--json: its kind, text and HTML)."),
    "reorder": ("sales", "Open reorder suggestions."),
    "replay": ("batches", "Post again the rejected requests of a batch."),
    "report": ("reports", "Reports: `report x|z` (an outlet's day), `report gst` (GST F5), `report ID` (a batch)."),
    "sale": ("sales", "A request's outcome and sale."),
    "services": ("processes", "The embedded PostgreSQL and Redis: start, stop, status."),
    "stock": ("sales", "Stock on hand."),
    "submit": ("sales", "Submit one sale request (or a JSON array of them)."),
    "up": ("processes", "Migrate, start workers, Flower and the HTTP intake; Ctrl-C stops all."),
    "web": ("web", "Web-shop orders (Shopify, WooCommerce)."),
    "worker": ("processes", "One Celery worker (extra arguments go to Celery)."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when invoked (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"frontends.cli.{COMMANDS[cmd_name][0]}")
        command: click.Command = next(c for c in module.COMMANDS if c.name == cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their one-line help, from the table: `--help` imports none of them."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help(name, limit)) for name in COMMANDS])


def short_help(name: str, limit: int = 45) -> str:
    """The command's one-line help as click shortens it, from the table (its module not imported)."""
    return click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.pass_context
def tillpost(context: click.Context) -> None:
    """Post every sale into one ledger."""
    try:
        config = settings.load()
    except ValueError as exc:  # a setting that cannot be used, named in the message
        raise BadInput(str(exc)) from None
    config.check_urls()
    context.obj = config  # every command's settings: common.command_settings()


def main(argv: list[str] | None = None) -> int:
    """Run one command line (default: this process's arguments); its exit status."""
    try:
        status = _run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's last flush
    except BrokenPipeError:
        return _reader_went_away()
    except KeyboardInterrupt:  # Ctrl-C seen only after the command handled one, or while flushing
        status = 130
    if status == 130:
        _forget_the_interrupt()
    return status


def _forget_the_interrupt() -> None:
    """Let a handled Ctrl-C end with 130 under `python -m` too. CPython (3.11 here) marks a
    KeyboardInterrupt that leaves code run from a string (`exec` of generated code, such as a
    dataclass's __init__ being made while a module imports) as unhandled, even when a caller catches
    it; under `-m` the interpreter then ends itself by SIGINT, without a traceback, whatever status
    the command returned. A string run afterwards clears the mark (it is reset when one begins)."""
    exec("")  # the empty string: nothing runs


def _run(args: list[str]) -> int:
    try:
        with tillpost.make_context("tillpost", args) as context:
            return int(tillpost.invoke(context) or 0)
    except click.exceptions.Exit as done:  # --help
        return done.exit_code
    except click.ClickException as usage:  # bad usage: click names the problem (exit 2)
        usage.show()
        return usage.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        status = _exit_status(exc)
        if status is None:
            raise
        return status


def _exit_status(exc: Exception) -> int | None:
    """Say what went wrong in one line and return the exit status; None for a bug (its traceback shows)."""
    for kinds, status in EXIT_STATUS:
        if isinstance(exc, kinds):
            return _fail(status, exc)
    if isinstance(exc, FileNotFoundError):
        return _fail(2, f"no such file: {exc.filename}")
    if isinstance(exc, IsADirectoryError | PermissionError):
        return _fail(2, f"{exc.filename}: {exc.strerror}")
    service = outages.service_behind(exc)  # a service lost after the command's first contact
    if service is not None:
        return _fail(3, outages.ServiceUnavailable.of(service, settings.load(), exc))
    missing = outages.schema_missing(exc)  # a database nobody has migrated (or migrated to an older version)
    if missing is not None:
        return _fail(3, f"the database has no {missing}: it is not migrated; run `tillpost db upgrade`")
    return None


def _reader_went_away() -> int:
    """stdout's reader left (`tillpost batch list | head -1`): end quietly, as a tool stopped by SIGPIPE.

    stdout is pointed at /dev/null first, so the interpreter's own flush at exit cannot fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _fail(status: int, problem: object) -> int:
    print(f"tillpost: {problem}", file=sys.stderr)
    return status
