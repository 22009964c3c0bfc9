"""Closing the day and the quarter: `report x|z|gst`, and `cash count`.

`report ID` (a batch's requests with their outcomes) keeps working: `report` is a group whose first
argument, when it is no report name, is handed to `report batch` (so `report 12` and
`report --format jsonl 12` are what they always were)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

import click

from domain.errors import InvalidArgument, NotFound
from frontends.cli import batches
from frontends.cli.common import BadInput, company_option, database, json_option
from frontends.output import emit_json
from frontends.reportprint import as_html, as_text
from services import reports

DATE_HELP = "business day, YYYY-MM-DD (the Asia/Singapore calendar day of occurred_at)"


class ReportGroup(click.Group):
    """`report x|z|gst ...`, and anything else `report batch ...` (the batch report of before)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["batch", *args]
        return super().parse_args(ctx, args)


@click.group(cls=ReportGroup)
def report() -> None:
    """Reports: `report x|z` (an outlet's day), `report gst` (GST F5), `report ID` (a batch)."""


def _bad_input(exc: InvalidArgument | NotFound) -> BadInput:
    """A report's argument that cannot be used is bad input (exit 2), an unknown outlet included."""
    return BadInput(str(exc) if isinstance(exc, InvalidArgument) else f"--{exc.what}: unknown {exc.what} {exc.key!r}")


def _print(document: dict[str, Any], as_json: bool, html_file: str | None) -> int:
    if html_file is not None:
        _write(html_file, as_html(document))
    if as_json:
        emit_json(document)
    else:
        sys.stdout.write(as_text(document))
    return 0


def _write(path: str, content: str) -> None:
    try:
        Path(path).write_text(content, encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"{path}: cannot be written ({exc.strerror or exc})") from None


def outlet_day_options(command: Any) -> Any:
    command = click.option("--html", "html_file", metavar="FILE", help="also write a printable HTML page")(command)
    command = json_option(command)
    command = company_option(command)
    command = click.option("--date", "day", required=True, help=DATE_HELP)(command)
    return click.option("--outlet", required=True, help="outlet code")(command)


@report.command("x")
@outlet_day_options
@click.option("--cashier", help="only this cashier's sales (user name)")
def report_x(
    outlet: str, day: str, company: str | None, as_json: bool, html_file: str | None, cashier: str | None
) -> int:
    """An outlet's day now, without a number; per cashier with --cashier.

    For a day with an issued Z, also its number and what changed since."""
    try:
        document = reports.x_report(database(), outlet, day, cashier, company)
    except (InvalidArgument, NotFound) as exc:
        raise _bad_input(exc) from None
    return _print(document, as_json, html_file)


@report.command("z")
@outlet_day_options
def report_z(outlet: str, day: str, company: str | None, as_json: bool, html_file: str | None) -> int:
    """Issue the day's Z report once (numbered gap-free per outlet), then show the issued one.

    Refused (exit 1) while requests of that outlet and day are still PENDING."""
    try:
        document = reports.z_report(database(), outlet, day, company)
    except (InvalidArgument, NotFound) as exc:
        raise _bad_input(exc) from None
    return _print(document, as_json, html_file)


@report.command("gst")
@click.option("--company", required=True, help="company code")
@click.option("--period", help="a quarter, YYYYQn (2025Q1)")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="first business day (with --to)")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="last business day (with --from)")
@json_option
@click.option("--csv", "csv_file", metavar="FILE", help="write the sales behind each box to FILE (CSV)")
@click.option("--detail", is_flag=True, help="print the sales behind each box as CSV on stdout instead")
@click.option("--html", "html_file", metavar="FILE", help="also write a printable HTML page")
def report_gst(
    company: str,
    period: str | None,
    start: str | None,
    end: str | None,
    as_json: bool,
    csv_file: str | None,
    detail: bool,
    html_file: str | None,
) -> int:
    """GST F5 figures of a company's period: boxes 1, 2, 3, 4 and 6 (5 and 7 need purchases)."""
    from domain.reports.gst import DETAIL_COLUMNS

    db = database()
    try:
        document = reports.gst_return(db, company, period, start, end)
        if detail:
            writer = csv.DictWriter(sys.stdout, fieldnames=DETAIL_COLUMNS)
            writer.writeheader()
            reports.gst_detail(db, company, period, start, end, writer.writerow)
            return 0
        if csv_file is not None:
            _write_detail(db, csv_file, company, (period, start, end))
    except (InvalidArgument, NotFound) as exc:
        raise _bad_input(exc) from None
    return _print(document, as_json, html_file)


def _write_detail(db: Any, path: str, company: str, when: tuple[str | None, str | None, str | None]) -> None:
    from domain.reports.gst import DETAIL_COLUMNS

    try:
        with Path(path).open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=DETAIL_COLUMNS)
            writer.writeheader()
            reports.gst_detail(db, company, *when, writer.writerow)
    except OSError as exc:
        raise BadInput(f"{path}: cannot be written ({exc.strerror or exc})") from None


@click.group()
def cash() -> None:
    """The cash drawer."""


@cash.command("count")
@click.option("--outlet", required=True, help="outlet code")
@click.option("--date", "day", required=True, help=DATE_HELP)
@click.option("--amount", required=True, help="the cash counted in the drawer, like 1234.50")
@click.option("--by", help="who counted (a user name of the outlet's company)")
@company_option
@json_option
def cash_count(outlet: str, day: str, amount: str, by: str | None, company: str | None, as_json: bool) -> int:
    """Record the counted cash drawer of an outlet's day (a recount is kept too; reports show the latest)."""
    try:
        document = reports.cash_count(database(), outlet, day, amount, by, company)
    except (InvalidArgument, NotFound) as exc:
        raise _bad_input(exc) from None
    if as_json:
        emit_json(document)
    else:
        print(f"cash count of {document['outlet']} for {document['date']}: {document['amount']} recorded")
    return 0


report.add_command(batches.report, "batch")
COMMANDS = (report, cash)
