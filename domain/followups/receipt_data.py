"""Everything a receipt shows, read for a whole set of sales in four queries, and which kind of
document it is (`receipt_kind`, the rules of IRAS: README "Receipts").

Names and addresses are master data as it is when the receipt is made (its follow-up runs right
after the sale posted); the receipt is stored then and never made again, so it keeps them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ScalarSelect, Select, func, select
from sqlalchemy.orm import Session, aliased

from domain.posting.pricing import LineFigures, PricedTender
from domain.posting.request import Kind
from domain.tables import Company, Customer, LoyaltyEntry, Outlet, Sale, SaleLine, Tender, User, among, each_of
from domain.vocabulary import ReceiptKind

# GST (General) Regulations, reg. 13: a simplified tax invoice only for an amount payable, GST
# included, of at most S$1,000, with every supply at the same rate and none zero-rated or exempt.
SIMPLIFIED_LIMIT = Decimal("1000.00")
SIMPLIFIED_CURRENCY = "SGD"


@dataclass(frozen=True, kw_only=True)
class ReceiptLine(LineFigures):
    """A stored line, with the description it was sold under."""

    description: str


@dataclass(frozen=True)
class Membership:
    customer: str
    points: int | None  # None while the sale's loyalty has not run
    balance: int
    name: str  # "" when master data has none
    address: str | None  # None when master data has none


@dataclass(frozen=True)
class ReceiptData:
    sale_id: int
    transaction_number: str
    is_return: bool
    original_transaction_number: str | None
    original_occurred_at: datetime | None
    notes: str | None
    currency: str
    company: str
    uen: str
    gst_registration_number: str | None
    prices_include_gst: bool
    outlet: str
    address: str
    occurred_at: datetime
    cashier: str | None
    subtotal: Decimal
    rounding_adjustment: Decimal
    total: Decimal
    change_due: Decimal
    lines: tuple[ReceiptLine, ...]
    tenders: tuple[PricedTender, ...]
    member: Membership | None


def receipt_kind(r: ReceiptData) -> ReceiptKind:
    """A return's is a credit note; a company without a GST registration number issues no tax
    invoice at all; a sale that may have a simplified tax invoice gets one; any other sale gets a
    full tax invoice when its member is known, else a receipt saying a full one is issued on request."""
    if r.is_return:
        return ReceiptKind.CREDIT_NOTE
    if r.gst_registration_number is None:
        return ReceiptKind.RECEIPT
    if may_be_simplified(r):
        return ReceiptKind.SIMPLIFIED_TAX_INVOICE
    return ReceiptKind.RECEIPT if r.member is None else ReceiptKind.TAX_INVOICE


def may_be_simplified(r: ReceiptData) -> bool:
    """Reg. 13. The limit is in Singapore dollars and master data holds no exchange rate, so a sale
    in another currency is never compared with it: it always needs a full tax invoice."""
    rates = {line.gst_rate for line in r.lines}
    return r.currency == SIMPLIFIED_CURRENCY and r.total <= SIMPLIFIED_LIMIT and len(rates) == 1 and min(rates) > 0


def load_receipts(session: Session, sale_ids: list[int]) -> list[ReceiptData]:
    """The receipts' contents, in sale id order.

    The points balance is as this sale left it: the customer's entries up to and including this
    sale, so a receipt made later (or again) still shows the balance of its own moment.
    """
    lines = _lines(session, sale_ids)
    tenders = _tenders(session, sale_ids)
    return [
        _receipt(head, tuple(lines[head.sale_id]), tuple(tenders[head.sale_id])) for head in _heads(session, sale_ids)
    ]


def _heads(session: Session, sale_ids: list[int]) -> Sequence[Any]:
    """One row per sale: the receipt's own fields (named as in ReceiptData), and its member."""
    original = aliased(Sale)
    return session.execute(
        select(
            Sale.id.label("sale_id"),
            Sale.transaction_number,
            (Sale.kind == Kind.RETURN).label("is_return"),
            original.transaction_number.label("original_transaction_number"),
            original.occurred_at.label("original_occurred_at"),
            Sale.notes,
            Company.currency,
            Company.name.label("company"),
            Company.uen,
            Company.gst_registration_number,
            Company.prices_include_gst,
            Outlet.name.label("outlet"),
            Outlet.address,
            Sale.occurred_at,
            func.coalesce(func.nullif(User.full_name, ""), User.username).label("cashier"),
            Sale.subtotal,
            Sale.rounding_adjustment,
            Sale.total,
            Sale.change_due,
            Customer.code.label("customer_code"),
            Customer.name.label("customer_name"),
            Customer.address.label("customer_address"),
            LoyaltyEntry.points,
            _balance_after_sale().label("balance"),
        )
        .join(Company, Company.id == Sale.company_id)
        .join(Outlet, Outlet.id == Sale.outlet_id)
        .outerjoin(original, original.id == Sale.original_sale_id)
        .outerjoin(User, User.id == Sale.cashier_id)
        .outerjoin(Customer, Customer.id == Sale.customer_id)
        .outerjoin(LoyaltyEntry, LoyaltyEntry.sale_id == Sale.id)
        .where(among(Sale.id, sale_ids))
        .order_by(Sale.id)
    ).all()


def _balance_after_sale() -> ScalarSelect[Any]:
    """The member's points as the sale left them: the entries up to and including it."""
    earlier = aliased(LoyaltyEntry)
    return (
        select(func.coalesce(func.sum(earlier.points), 0))
        .where(earlier.customer_id == Sale.customer_id, earlier.sale_id <= Sale.id)
        .correlate(Sale)
        .scalar_subquery()
    )


def _receipt(head: Any, lines: tuple[ReceiptLine, ...], tenders: tuple[PricedTender, ...]) -> ReceiptData:
    fields = dict(head._mapping)
    code, name, address = fields.pop("customer_code"), fields.pop("customer_name"), fields.pop("customer_address")
    points, balance = fields.pop("points"), fields.pop("balance")
    member = None
    if code is not None:
        member = Membership(f"{name} ({code})" if name else code, points, balance, name, address)
    return ReceiptData(**fields, lines=lines, tenders=tenders, member=member)


def _lines(session: Session, sale_ids: list[int]) -> dict[int, list[ReceiptLine]]:
    found: dict[int, list[ReceiptLine]] = defaultdict(list)
    query = lines_of(sale_ids)
    columns = query.selected_columns
    for sale_id, description, *figures, _ in session.execute(query.order_by(columns.sale_id, columns.line_no)):
        found[sale_id].append(ReceiptLine(*figures, description=description))
    return found


def lines_of(sale_ids: list[int]) -> Select[Any]:
    """The sales' lines, looked up sale by sale (each_of)."""
    return each_of(
        sale_ids,
        lambda sale_id: select(
            SaleLine.sale_id,
            SaleLine.description,
            SaleLine.quantity,
            SaleLine.unit_price,
            SaleLine.discount,
            SaleLine.amount,
            SaleLine.gst_rate,
            SaleLine.tax,
            SaleLine.line_no,
        ).where(SaleLine.sale_id == sale_id),
    )


def _tenders(session: Session, sale_ids: list[int]) -> dict[int, list[PricedTender]]:
    found: dict[int, list[PricedTender]] = defaultdict(list)
    query = tenders_of(sale_ids)
    columns = query.selected_columns
    for sale_id, method, amount, reference, _ in session.execute(query.order_by(columns.sale_id, columns.id)):
        found[sale_id].append(PricedTender(method, amount, reference))
    return found


def tenders_of(sale_ids: list[int]) -> Select[Any]:
    """The sales' tenders, looked up sale by sale (each_of)."""
    return each_of(
        sale_ids,
        lambda sale_id: select(Tender.sale_id, Tender.method, Tender.amount, Tender.reference, Tender.id).where(
            Tender.sale_id == sale_id
        ),
    )
