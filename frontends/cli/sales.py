"""Sales one at a time: `submit`, `sale show`, `receipt`, and what the sales left behind:
`customer show` (loyalty), `stock show`, `reorder list`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from frontends.cli.common import (
    BadInput,
    company_option,
    database,
    json_option,
    read_file,
    show,
    wait_options,
)
from frontends.output import emit_json, table
from services import lookups

if TYPE_CHECKING:
    from frontends.ledger import Ledger

SUBMITTED_COLUMNS = ("request_id", "outcome", "reason", "transaction_number", "total", "message")


def _read_requests(path: str) -> list[Any]:
    from domain.posting.request import decode

    content = read_file(path)
    try:
        data = decode(content)
    except ValueError as exc:
        raise BadInput(f"{path}: not valid JSON: {exc}") from None
    return data if isinstance(data, list) else [data]


@click.command()
@click.argument("file")
@wait_options("wait until every request has an outcome")
@json_option
def submit(file: str, wait: bool, timeout: float, as_json: bool) -> int:
    """Submit one sale request (or a JSON array of them)."""
    from frontends.ledger import Ledger
    from frontends.recovery import REQUESTS_KEEP_POSTING

    payloads = _read_requests(file)
    ledger = Ledger(database())
    intake_ids = ledger.submit(payloads)
    try:
        finished = _wait_for(ledger, intake_ids, timeout) if wait else True
    except KeyboardInterrupt:
        print(f"\nstopped waiting: {REQUESTS_KEEP_POSTING}", file=sys.stderr)
        return 130
    documents = ledger.outcomes(intake_ids)
    if as_json:
        emit_json(documents)
    else:
        table(documents, SUBMITTED_COLUMNS)
    if not finished:
        print(f"timed out after {timeout:g} s, requests still PENDING; {REQUESTS_KEEP_POSTING}", file=sys.stderr)
        return 1
    return 0


def _wait_for(ledger: Ledger, intake_ids: list[int], timeout: float) -> bool:
    """Wait with a progress bar until every request has an outcome; False once `timeout` ran out."""
    from frontends.progress import RequestProgress
    from frontends.recovery import Watch

    with RequestProgress(len(intake_ids), watch=Watch()) as progress:
        finished = ledger.wait(intake_ids, timeout=timeout, watch=progress)
        if finished:
            progress.finished()
    return finished


@click.group()
def sale() -> None:
    """A request's outcome and sale."""


@sale.command("show")
@click.argument("request_id")
@company_option
@json_option
def sale_show(request_id: str, company: str | None, as_json: bool) -> int:
    """The outcome of REQUEST_ID and, when posted, its sale."""
    return show(lookups.sale_show(database(), request_id, company), as_json)


@click.command()
@click.argument("transaction_number")
@click.option("--company", help="only a sale of this company (numbers are unique anyway)")
@click.option("--html", is_flag=True, help="the HTML receipt instead of the text one")
@json_option
def receipt(transaction_number: str, company: str | None, html: bool, as_json: bool) -> int:
    """The stored receipt of the sale TRANSACTION_NUMBER (--json: its kind, text and HTML)."""
    document = lookups.receipt_document(database(), transaction_number, company)
    if as_json:
        emit_json(document)
    else:
        print(document["html" if html else "text"])
    return 0


@click.group()
def customer() -> None:
    """Loyalty balance and ledger."""


@customer.command("show")
@click.argument("code")
@company_option
@json_option
def customer_show(code: str, company: str | None, as_json: bool) -> int:
    """The points of customer CODE and the sales that earned or took them."""
    document = lookups.customer_show(database(), code, company)
    if as_json:
        emit_json(document)
    else:
        print(f"customer {document['code']}: {document['points']} points")
        table(document["entries"], ("sale", "points"))
    return 0


@click.group()
def stock() -> None:
    """Stock on hand."""


@stock.command("show")
@click.option("--outlet", required=True, help="the outlet's code")
@click.option("--sku", help="only this product")
@json_option
def stock_show(outlet: str, sku: str | None, as_json: bool) -> int:
    """Stock on hand at an outlet."""
    return show(lookups.stock_show(database(), outlet, sku), as_json, ("outlet", "sku", "on_hand"))


@click.group()
def reorder() -> None:
    """Open reorder suggestions."""


REORDER_COLUMNS = ("outlet", "sku", "on_hand", "reorder_point", "suggested_quantity", "supplier")


@reorder.command("list")
@click.option("--outlet", help="only this outlet's suggestions")
@json_option
def reorder_list(outlet: str | None, as_json: bool) -> int:
    """Products at or below their reorder point, with the quantity to order."""
    return show(lookups.reorder_list(database(), outlet), as_json, REORDER_COLUMNS)


COMMANDS = (submit, sale, receipt, customer, stock, reorder)
