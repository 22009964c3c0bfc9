"""`tillpost`: the command line of ../shared/CLI.md (click), a command group per module.

Exit status: 0 success, 1 a check or command failed, 2 bad usage or bad input, 3 PostgreSQL or the
broker could not be reached, 130 interrupted (Ctrl-C), 141 stdout's reader went away (SIGPIPE).
With no URL configured, every command starts (or reuses) the embedded servers of TILLPOST_HOME.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from domain.errors import AmbiguousCode, ImportFailed, NotFound, ZReportRefused
from frontends import outages
from frontends.cli import batches, checks, masterdata, processes, reports, sales, web
from frontends.cli.common import BadInput
from runtime import settings
from runtime.flower_auth import FlowerAuthError

# The failures a person can act on, and the exit status each ends the command with.
EXIT_STATUS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], int], ...] = (
    ((NotFound, ZReportRefused), 1),
    ((ImportFailed, BadInput, AmbiguousCode, settings.UnsupportedUrl, FlowerAuthError), 2),
    (outages.ServiceUnavailable, 3),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.pass_context
def tillpost(context: click.Context) -> None:
    """Post every sale into one ledger."""
    try:
        config = settings.load()
    except ValueError as exc:  # a setting that cannot be used, named in the message
        raise BadInput(str(exc)) from None
    config.check_urls()
    context.obj = config  # every command's settings: common.command_settings()


for module in (masterdata, sales, batches, reports, checks, processes, web):
    for command in module.COMMANDS:
        tillpost.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run one command line (default: this process's arguments); its exit status."""
    try:
        status = _run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's last flush
    except BrokenPipeError:
        return _reader_went_away()
    return status


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
    if service is None:
        return None
    return _fail(3, outages.ServiceUnavailable.of(service, settings.load(), exc))


def _reader_went_away() -> int:
    """stdout's reader left (`tillpost batch list | head -1`): end quietly, as a tool stopped by SIGPIPE.

    stdout is pointed at /dev/null first, so the interpreter's own flush at exit cannot fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def _fail(status: int, problem: object) -> int:
    print(f"tillpost: {problem}", file=sys.stderr)
    return status
