"""Receipts: a Singapore tax invoice (or credit note) per sale, rendered once as text and HTML,
stored, and read back by transaction number. The data comes from receipt_data.py.

Both renderings are built from one list of blocks, so the text and the HTML never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.errors import NotFound
from domain.followups.receipt_data import ReceiptData, ReceiptLine, load_receipts
from domain.posting.money import ZERO, cents, without_trailing_zeros
from domain.tables import Receipt

SINGAPORE = ZoneInfo("Asia/Singapore")
WIDTH = 42


def store_receipts(session: Session, sale_ids: list[int]) -> None:
    """Render and store the receipts of these sales; a receipt already stored is kept as it is."""
    rows = [
        {
            "sale_id": r.sale_id,
            "transaction_number": r.transaction_number,
            "text": render_text(r),
            "html": render_html(r),
        }
        for r in load_receipts(session, sale_ids)
    ]
    if rows:
        session.execute(pg_insert(Receipt).values(rows).on_conflict_do_nothing())


def receipt_for(session: Session, transaction_number: str, html: bool = False) -> str:
    """The stored receipt of a sale, as text (default) or HTML."""
    column = Receipt.html if html else Receipt.text
    found = session.scalar(select(column).where(Receipt.transaction_number == transaction_number))
    if found is None:
        raise NotFound("receipt", transaction_number)
    return found


@dataclass(frozen=True)
class Row:
    label: str
    amount: str = ""  # right-aligned money; empty for a line of plain text
    indent: bool = False


Block = tuple[str, list[Row]]


def render_text(receipt: ReceiptData) -> str:
    out: list[str] = []
    for kind, rows in blocks(receipt):
        if out:
            out.append("")
        for row in rows:
            label = ("  " if row.indent else "") + row.label
            if kind in ("company", "title"):
                out.append(label.center(WIDTH).rstrip())
            elif row.amount:
                out.append(label + " " * max(1, WIDTH - len(label) - len(row.amount)) + row.amount)
            else:
                out.append(label)
    return "\n".join(out) + "\n"


def render_html(receipt: ReceiptData) -> str:
    title = f"{_title(receipt)} {receipt.transaction_number}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "<style>.receipt{font-family:monospace;max-width:26em}.amount{text-align:right}.indent{padding-left:1em}"
        "</style>",
        '</head><body><article class="receipt">',
    ]
    for kind, rows in blocks(receipt):
        if kind == "title":
            out.append(f"<h1>{escape(rows[0].label)}</h1>")
        elif any(row.amount for row in rows):
            out.append(f'<table class="{kind}">')
            out.extend(_html_row(row) for row in rows)
            out.append("</table>")
        else:
            out.append(f'<p class="{kind}">' + "<br>".join(escape(row.label) for row in rows) + "</p>")
    out.append("</article></body></html>")
    return "\n".join(out) + "\n"


def _html_row(row: Row) -> str:
    label = escape(row.label)
    if not row.amount:
        return f'<tr><td colspan="2">{label}</td></tr>'
    cell = f'<td class="indent">{label}</td>' if row.indent else f"<td>{label}</td>"
    return f'<tr>{cell}<td class="amount">{escape(row.amount)}</td></tr>'


def blocks(r: ReceiptData) -> list[Block]:
    """The receipt's content, top to bottom: who issued it, what was sold, GST, payment, points."""
    registered = r.gst_registration_number is not None
    company = [Row(r.company), Row(f"UEN: {r.uen}")]
    if registered:
        company.append(Row(f"GST Reg No: {r.gst_registration_number}"))
    company += [Row(r.outlet), *(Row(line) for line in r.address.splitlines() if line.strip())]
    sale = [Row(f"Transaction: {r.transaction_number}")]
    if r.original_transaction_number is not None:
        sale.append(Row(f"Original invoice: {r.original_transaction_number}"))
    sale.append(Row(f"Date: {r.occurred_at.astimezone(SINGAPORE):%d/%m/%Y %H:%M}"))
    if r.cashier:
        sale.append(Row(f"Cashier: {r.cashier}"))
    result: list[Block] = [
        ("company", company),
        ("title", [Row(_title(r))]),
        ("sale", sale),
        ("lines", [row for line in r.lines for row in _line_rows(line, registered)]),
        ("totals", _totals(r, registered)),
        (
            "tenders",
            [
                *(Row(_tender_label(t.method, t.reference), money(t.amount)) for t in r.tenders),
                Row("Change", money(r.change_due)),
            ],
        ),
    ]
    if r.member is not None:
        loyalty = [Row(f"Member: {r.member.customer}")]
        if r.member.points is not None:
            earned = r.member.points
            loyalty.append(Row(f"Points earned: {earned}" if earned >= 0 else f"Points taken back: {-earned}"))
        loyalty.append(Row(f"Points balance: {r.member.balance}"))
        result.append(("loyalty", loyalty))
    return result


def _title(r: ReceiptData) -> str:
    if r.is_return:
        return "CREDIT NOTE"
    return "TAX INVOICE" if r.gst_registration_number is not None else "RECEIPT"


def _line_rows(line: ReceiptLine, registered: bool) -> list[Row]:
    zero_rated = " (0% GST)" if registered and line.gst_rate == 0 else ""
    charge = f"{without_trailing_zeros(abs(line.quantity))} x {_price(line.unit_price)}"
    if line.discount:
        charge += f" less {money(line.discount)}"
    return [Row(line.description + zero_rated), Row(charge, money(line.amount), indent=True)]


def _totals(r: ReceiptData, registered: bool) -> list[Row]:
    tax_by_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in r.lines:
        if line.gst_rate:
            tax_by_rate[line.gst_rate] += line.tax
    rates = sorted(tax_by_rate.items()) if registered else []
    rows = [Row("Subtotal", money(r.subtotal))]
    if not r.prices_include_gst:
        rows += [Row(f"GST {without_trailing_zeros(rate)}%: {money(tax)}") for rate, tax in rates]
    if r.rounding_adjustment:
        rows.append(Row("Rounding", money(r.rounding_adjustment)))
    rows.append(Row("TOTAL", money(r.total)))
    if r.prices_include_gst:
        rows += [Row(f"Total includes {without_trailing_zeros(rate)}% GST {money(tax)}") for rate, tax in rates]
    return rows


def _tender_label(method: str, reference: str | None) -> str:
    return f"{method} {reference}" if reference else method


def money(amount: Decimal) -> str:
    """S$1,234.50; a negative amount (a refund, a rounding down) as -S$0.02."""
    sign = "-" if amount < 0 else ""
    return f"{sign}S${abs(amount):,.2f}"


def _price(unit_price: Decimal) -> str:
    """A unit price in cents when it is whole cents, else with the extra places it was sold at."""
    return money(unit_price) if unit_price == cents(unit_price) else f"S${without_trailing_zeros(unit_price)}"
