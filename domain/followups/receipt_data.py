"""Everything a receipt shows, read for a whole set of sales in four queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from domain.tables import Company, Customer, LoyaltyEntry, Outlet, Sale, SaleLine, Tender, User


@dataclass(frozen=True)
class ReceiptLine:
    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    gst_rate: Decimal
    tax: Decimal


@dataclass(frozen=True)
class ReceiptTender:
    method: str
    amount: Decimal
    reference: str | None


@dataclass(frozen=True)
class Membership:
    customer: str
    points: int | None  # None while the sale's loyalty has not run
    balance: int


@dataclass(frozen=True)
class ReceiptData:
    sale_id: int
    transaction_number: str
    is_return: bool
    original_transaction_number: str | None
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
    tenders: tuple[ReceiptTender, ...]
    member: Membership | None


def load_receipts(session: Session, sale_ids: list[int]) -> list[ReceiptData]:
    """The receipts' contents, in sale id order.

    The points balance is as this sale left it: the customer's entries up to and including this
    sale, so a receipt made later (or again) still shows the balance of its own moment.
    """
    earlier, original = aliased(LoyaltyEntry), aliased(Sale)
    balance = (
        select(func.coalesce(func.sum(earlier.points), 0))
        .where(earlier.customer_id == Sale.customer_id, earlier.sale_id <= Sale.id)
        .correlate(Sale)
        .scalar_subquery()
    )
    heads = session.execute(
        select(
            Sale.id,
            Sale.transaction_number,
            Sale.kind,
            original.transaction_number.label("original_number"),
            Sale.occurred_at,
            Sale.subtotal,
            Sale.rounding_adjustment,
            Sale.total,
            Sale.change_due,
            Company.name.label("company"),
            Company.uen,
            Company.gst_registration_number,
            Company.prices_include_gst,
            Outlet.name.label("outlet"),
            Outlet.address,
            func.coalesce(func.nullif(User.full_name, ""), User.username).label("cashier"),
            Customer.code.label("customer_code"),
            Customer.name.label("customer_name"),
            LoyaltyEntry.points,
            balance.label("balance"),
        )
        .join(Company, Company.id == Sale.company_id)
        .join(Outlet, Outlet.id == Sale.outlet_id)
        .outerjoin(original, original.id == Sale.original_sale_id)
        .outerjoin(User, User.id == Sale.cashier_id)
        .outerjoin(Customer, Customer.id == Sale.customer_id)
        .outerjoin(LoyaltyEntry, LoyaltyEntry.sale_id == Sale.id)
        .where(Sale.id.in_(sale_ids))
        .order_by(Sale.id)
    ).all()
    lines = _lines(session, sale_ids)
    tenders = _tenders(session, sale_ids)
    receipts = []
    for row in heads:
        member = None
        if row.customer_code is not None:
            name = f"{row.customer_name} ({row.customer_code})" if row.customer_name else row.customer_code
            member = Membership(name, row.points, row.balance)
        receipts.append(
            ReceiptData(
                sale_id=row.id,
                transaction_number=row.transaction_number,
                is_return=row.kind == "return",
                original_transaction_number=row.original_number,
                company=row.company,
                uen=row.uen,
                gst_registration_number=row.gst_registration_number,
                prices_include_gst=row.prices_include_gst,
                outlet=row.outlet,
                address=row.address,
                occurred_at=row.occurred_at,
                cashier=row.cashier,
                subtotal=row.subtotal,
                rounding_adjustment=row.rounding_adjustment,
                total=row.total,
                change_due=row.change_due,
                lines=tuple(lines[row.id]),
                tenders=tuple(tenders[row.id]),
                member=member,
            )
        )
    return receipts


def _lines(session: Session, sale_ids: list[int]) -> dict[int, list[ReceiptLine]]:
    found: dict[int, list[ReceiptLine]] = defaultdict(list)
    rows = session.execute(
        select(
            SaleLine.sale_id,
            SaleLine.description,
            SaleLine.quantity,
            SaleLine.unit_price,
            SaleLine.discount,
            SaleLine.amount,
            SaleLine.gst_rate,
            SaleLine.tax,
        )
        .where(SaleLine.sale_id.in_(sale_ids))
        .order_by(SaleLine.sale_id, SaleLine.line_no)
    )
    for sale_id, description, quantity, unit_price, discount, amount, gst_rate, tax in rows:
        found[sale_id].append(ReceiptLine(description, quantity, unit_price, discount, amount, gst_rate, tax))
    return found


def _tenders(session: Session, sale_ids: list[int]) -> dict[int, list[ReceiptTender]]:
    found: dict[int, list[ReceiptTender]] = defaultdict(list)
    rows = session.execute(
        select(Tender.sale_id, Tender.method, Tender.amount, Tender.reference)
        .where(Tender.sale_id.in_(sale_ids))
        .order_by(Tender.sale_id, Tender.id)
    )
    for sale_id, method, amount, reference in rows:
        found[sale_id].append(ReceiptTender(method, amount, reference))
    return found
