"""Receipts: per sale a simplified tax invoice, a full tax invoice, a receipt, or for a return a
credit note (which one: receipt_data.receipt_kind), rendered once as text and HTML, stored with its
kind, and read back by transaction number. The data comes from receipt_data.py.

Both renderings are built from one list of blocks, so the text and the HTML never disagree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape
from unicodedata import combining, east_asian_width
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.db import dumps
from domain.errors import NotFound
from domain.followups.receipt_data import (
    SIMPLIFIED_CURRENCY,
    Membership,
    ReceiptData,
    ReceiptLine,
    load_receipts,
    receipt_kind,
)
from domain.posting.money import ZERO, cents, without_trailing_zeros
from domain.tables import Receipt
from domain.vocabulary import ReceiptKind

SINGAPORE = ZoneInfo("Asia/Singapore")
WIDTH = 42


def store_receipts(session: Session, sale_ids: list[int]) -> None:
    """Render and store the receipts of these sales; a receipt already stored is kept as it is."""
    receipts = []
    for r in load_receipts(session, sale_ids):
        kind, content = receipt_kind(r), blocks(r)  # both renderings from one list of blocks
        receipts.append(
            {
                "sale_id": r.sale_id,
                "transaction_number": r.transaction_number,
                "kind": kind,
                "text": render_text(content),
                "html": render_html(content, f"{TITLES[kind]} {r.transaction_number}"),
            }
        )
    if receipts:
        session.execute(_STORE, {"receipts": dumps(receipts)})


# One statement whatever the number of receipts, so it is compiled and prepared once; a receipt
# already stored is kept. The rows go as one JSON parameter: psycopg quotes each element of a text
# array with a regular expression, which costs more than the receipt's rendering for HTML full of quotes.
_STORE = text("""
    INSERT INTO receipts (sale_id, transaction_number, kind, text, html)
    SELECT sale_id, transaction_number, kind, text, html
    FROM json_to_recordset(CAST(:receipts AS json))
        AS r(sale_id bigint, transaction_number text, kind text, text text, html text)
    ON CONFLICT DO NOTHING
""")


def receipt_for(session: Session, transaction_number: str, html: bool = False) -> str:
    """The stored receipt of a sale, as text (default) or HTML."""
    return str(stored_receipt(session, transaction_number)["html" if html else "text"])


def stored_receipt(session: Session, transaction_number: str) -> dict[str, str]:
    """The stored receipt of a sale: transaction_number, kind, text and html."""
    found = session.execute(
        select(Receipt.transaction_number, Receipt.kind, Receipt.text, Receipt.html).where(
            Receipt.transaction_number == transaction_number
        )
    ).one_or_none()
    if found is None:
        raise NotFound("receipt", transaction_number)
    return dict(found._mapping)


@dataclass(frozen=True)
class Row:
    """One line of the receipt. Its label is made one line of text: a line break, a control
    character (a terminal escape) or a bidirectional override in a name or a tender's reference
    becomes a space, so no master data or request can start a line of its own, reorder the amount
    beside it, or drive the terminal that prints it."""

    label: str
    amount: str = ""  # right-aligned money; empty for a line of plain text
    indent: bool = False

    def __post_init__(self) -> None:
        if not self.label.isprintable():  # the common case costs one C-level scan
            object.__setattr__(self, "label", _NOT_ON_ONE_LINE.sub(" ", self.label))


# C0 and C1 controls (a tab, CR, LF, ESC, NEL), the line and paragraph separators, and the
# bidirectional embeddings, overrides and isolates.
_NOT_ON_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


Block = tuple[str, list[Row]]


def render_text(content: list[Block]) -> str:
    """WIDTH columns, counted as a printer or terminal shows them (a CJK character takes two): the
    company and the title centred, each amount ending in the last column beside its label (a label
    too long for that is wrapped at spaces, a word wider than a line cut). Other rows are printed
    as they are: a printer wraps a long one itself."""
    out: list[str] = []
    for kind, rows in content:
        if out:
            out.append("")
        for row in rows:
            indent = "  " if row.indent else ""
            if kind in ("company", "title"):
                out += [(" " * ((WIDTH - _columns(line)) // 2) + line).rstrip() for line in _wrap(row.label, WIDTH)]
            elif row.amount:
                *first, last = _wrap(row.label, WIDTH - len(indent) - 1 - _columns(row.amount))
                out += [indent + line for line in first]
                out.append(indent + last + " " * (WIDTH - len(indent) - _columns(last + row.amount)) + row.amount)
            else:
                out.append(indent + row.label)
    return "\n".join(out) + "\n"


def _columns(text: str) -> int:
    """The columns `text` takes on a receipt printer or a terminal: a wide (CJK) character two, a
    combining mark none."""
    if text.isascii():
        return len(text)
    return sum(0 if combining(c) else 2 if east_asian_width(c) in "WF" else 1 for c in text)


def _wrap(text: str, width: int) -> list[str]:
    """`text` as lines of at most `width` columns, broken at spaces; a word wider than a line is cut."""
    if _columns(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split():
        joined = f"{line} {word}" if line else word
        if _columns(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        line = word
        while _columns(line) > width:
            cut = _fitting(line, width)
            lines.append(line[:cut])
            line = line[cut:]
    return [*lines, line]


def _fitting(text: str, width: int) -> int:
    """How many characters of `text` fit in `width` columns (at least one, a combining mark kept
    with its letter)."""
    used = 0
    for n, c in enumerate(text):
        used += _columns(c)
        if used > width:
            return max(1, n)
    return len(text)


def render_html(content: list[Block], title: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "<style>.receipt{font-family:monospace;max-width:26em}.amount{text-align:right}.indent{padding-left:1em}"
        "</style>",
        '</head><body><article class="receipt">',
    ]
    for kind, rows in content:
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


@dataclass(frozen=True)
class Document:
    """How one receipt is written: its kind, and the facts of its company that change the layout."""

    kind: ReceiptKind
    registered: bool  # has a GST registration number
    inclusive: bool  # prices include GST
    currency: str

    @property
    def full(self) -> bool:
        """A full tax invoice or a GST-registered company's credit note: every particular IRAS lists."""
        return self.registered and self.kind in (ReceiptKind.TAX_INVOICE, ReceiptKind.CREDIT_NOTE)

    def money(self, amount: Decimal) -> str:
        return money(amount, self.currency)


def document(r: ReceiptData) -> Document:
    return Document(receipt_kind(r), r.gst_registration_number is not None, r.prices_include_gst, r.currency)


def blocks(r: ReceiptData) -> list[Block]:
    """The receipt's content, top to bottom: who issued it, what it is, to whom, what was sold, GST,
    payment, points."""
    doc = document(r)
    result: list[Block] = [
        ("company", _company(r, doc)),
        ("title", [Row(TITLES[doc.kind])]),
        ("sale", _sale(r, doc)),
    ]
    if r.member is not None and doc.full:
        result.append(("customer", _customer(r.member)))
    result += [
        ("lines", [row for line in r.lines for row in _line_rows(line, doc)]),
        ("totals", _full_totals(r, doc) if doc.full else _totals(r, doc)),
    ]
    notes = _notes(doc)
    if notes:
        result.append(("notes", notes))
    result.append(
        (
            "tenders",
            [
                *(Row(_tender_label(t.method, t.reference), doc.money(t.amount)) for t in r.tenders),
                Row("Change", doc.money(r.change_due)),
            ],
        )
    )
    if r.member is not None:
        loyalty = [Row(f"Member: {r.member.customer}")]
        if r.member.points is not None:
            earned = r.member.points
            loyalty.append(Row(f"Points earned: {earned}" if earned >= 0 else f"Points taken back: {-earned}"))
        loyalty.append(Row(f"Points balance: {r.member.balance}"))
        result.append(("loyalty", loyalty))
    return result


TITLES = {
    ReceiptKind.SIMPLIFIED_TAX_INVOICE: "SIMPLIFIED TAX INVOICE",
    ReceiptKind.TAX_INVOICE: "TAX INVOICE",
    ReceiptKind.RECEIPT: "RECEIPT",
    ReceiptKind.CREDIT_NOTE: "CREDIT NOTE",
}
NOT_ON_FILE = "not in master data"
GOODS_RETURNED = "goods returned"
ON_REQUEST = "A full tax invoice is issued on request."


def _company(r: ReceiptData, doc: Document) -> list[Row]:
    rows = [Row(r.company), Row(f"UEN: {r.uen}")]
    if doc.registered:
        rows.append(Row(f"GST Reg No: {r.gst_registration_number}"))
    rows.append(Row(r.outlet))
    address = _lines_of(r.address)
    if not address and doc.registered:
        address = [f"Address: {NOT_ON_FILE}"]  # a tax invoice names the supplier's address
    return rows + [Row(line) for line in address]


def _sale(r: ReceiptData, doc: Document) -> list[Row]:
    rows = [Row(f"Transaction: {r.transaction_number}"), Row(f"Date: {_local(r.occurred_at):%d/%m/%Y %H:%M}")]
    if doc.kind is ReceiptKind.CREDIT_NOTE:
        if r.original_transaction_number is None or r.original_occurred_at is None:
            rows.append(Row("Original invoice: none (no original invoice)"))
        else:
            dated = f"{_local(r.original_occurred_at):%d/%m/%Y}"
            rows.append(Row(f"Original invoice: {r.original_transaction_number} of {dated}"))
        rows.append(Row(f"Reason: {' '.join((r.notes or '').split()) or GOODS_RETURNED}"))  # on one line
    if r.cashier:
        rows.append(Row(f"Cashier: {r.cashier}"))
    return rows


def _customer(member: Membership) -> list[Row]:
    """A full tax invoice names its customer and their address; what master data lacks is said."""
    rows = [Row(f"Customer: {member.customer}")]
    if not member.name:
        rows.append(Row(f"Customer name: {NOT_ON_FILE}"))
    address = _lines_of(member.address or "")
    rows += [Row(line) for line in address] if address else [Row(f"Customer address: {NOT_ON_FILE}")]
    return rows


def _notes(doc: Document) -> list[Row]:
    rows = []
    if doc.kind is ReceiptKind.RECEIPT and doc.registered:
        rows.append(Row(ON_REQUEST))
    if doc.currency != SIMPLIFIED_CURRENCY:
        rows.append(Row(f"Amounts in {doc.currency}."))
        if doc.full:  # IRAS wants the totals in SGD too, at an approved exchange rate
            rows.append(Row("SGD equivalents: no exchange rate in master data."))
    return rows


def _line_rows(line: ReceiptLine, doc: Document) -> list[Row]:
    rate = ""
    if doc.full or (doc.registered and line.gst_rate == 0):
        rate = f" ({without_trailing_zeros(line.gst_rate)}% GST)"
    charge = f"{without_trailing_zeros(abs(line.quantity))} x {_price(line.unit_price, doc.currency)}"
    if line.discount:
        charge += f" less {doc.money(line.discount)}"
    rows = [Row(line.description + rate), Row(charge, doc.money(line.amount), indent=True)]
    if doc.full and doc.inclusive:
        rows.append(Row("excl. GST", doc.money(_excluding_gst(line, doc)), indent=True))
    return rows


def _excluding_gst(line: ReceiptLine, doc: Document) -> Decimal:
    return line.amount - line.tax if doc.inclusive else line.amount


def _by_rate(r: ReceiptData, doc: Document) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(rate, value excluding GST, GST) for each rate the lines were sold at, highest rate first."""
    net: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    tax: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in r.lines:
        net[line.gst_rate] += _excluding_gst(line, doc)
        tax[line.gst_rate] += line.tax
    return [(rate, net[rate], tax[rate]) for rate in sorted(net, reverse=True)]


def _full_totals(r: ReceiptData, doc: Document) -> list[Row]:
    """What IRAS lists for a tax invoice or a credit note: the value of each rate's supplies when
    there are several, the total excluding GST, the GST of each rate, the total including GST."""
    by_rate = _by_rate(r, doc)
    rows = []
    if len(by_rate) > 1:
        for rate, net, _ in by_rate:
            rows.append(Row(f"Supplies at {without_trailing_zeros(rate)}%, excl. GST", doc.money(net)))
    rows.append(Row("Total excl. GST", doc.money(sum((net for _, net, _ in by_rate), ZERO))))
    rows += [Row(f"GST at {without_trailing_zeros(rate)}%", doc.money(tax)) for rate, _, tax in by_rate]
    if r.rounding_adjustment:
        rows.append(Row("Rounding", doc.money(r.rounding_adjustment)))
    rows.append(Row("TOTAL incl. GST", doc.money(r.total)))
    return rows


def _totals(r: ReceiptData, doc: Document) -> list[Row]:
    tax_by_rate: dict[Decimal, Decimal] = defaultdict(lambda: ZERO)
    for line in r.lines:
        if line.gst_rate:
            tax_by_rate[line.gst_rate] += line.tax
    rates = sorted(tax_by_rate.items()) if doc.registered else []
    rows = [Row("Subtotal", doc.money(r.subtotal))]
    if not doc.inclusive:
        rows += [Row(f"GST {without_trailing_zeros(rate)}%: {doc.money(tax)}") for rate, tax in rates]
    if r.rounding_adjustment:
        rows.append(Row("Rounding", doc.money(r.rounding_adjustment)))
    rows.append(Row("TOTAL", doc.money(r.total)))
    if doc.inclusive:
        rows += [Row(f"Total includes {without_trailing_zeros(rate)}% GST {doc.money(tax)}") for rate, tax in rates]
    return rows


def _lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _local(moment: datetime) -> datetime:
    return moment.astimezone(SINGAPORE)


def _tender_label(method: str, reference: str | None) -> str:
    return f"{method} {reference}" if reference else method


def money(amount: Decimal, currency: str = SIMPLIFIED_CURRENCY) -> str:
    """S$1,234.50; a negative amount (a refund, a rounding down) as -S$0.02; another currency as
    USD 1,234.50."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{_symbol(currency)}{abs(amount):,.2f}"


def _symbol(currency: str) -> str:
    return "S$" if currency == SIMPLIFIED_CURRENCY else f"{currency} "


def _price(unit_price: Decimal, currency: str) -> str:
    """A unit price in cents when it is whole cents, else with the extra places it was sold at."""
    if unit_price == cents(unit_price):
        return money(unit_price, currency)
    return f"{_symbol(currency)}{without_trailing_zeros(unit_price)}"
