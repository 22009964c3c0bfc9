"""Ledger invariants, checked from the stored rows alone (`tillpost check`). Each violation says,
in a shop manager's words, which outlet, product, customer, sale or request is off and by what."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from domain.tables import (
    Company,
    Customer,
    LoyaltyEntry,
    Outlet,
    Product,
    ReorderSuggestion,
    Sale,
    SaleLine,
    SaleRequestRow,
    StockLevel,
    StockMovement,
    Tender,
)


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str


def check_ledger(session: Session) -> list[Violation]:
    """Every violation found, grouped by check; an empty list means the ledger is sound."""
    return [
        *_stock(session),
        *_points(session),
        *_negative_points(session),
        *_returns_within_sales(session),
        *_refunds_within_totals(session),
        *_sale_totals(session),
        *_tendered(session),
        *_requests(session),
        *_reorder(session),
    ]


def _stock(session: Session) -> list[Violation]:
    """On hand equals the sum of movements, for every (outlet, product) with either."""
    moved = (
        select(StockMovement.outlet_id, StockMovement.product_id, func.sum(StockMovement.quantity).label("moved"))
        .group_by(StockMovement.outlet_id, StockMovement.product_id)
        .subquery()
    )
    pair = and_(StockLevel.outlet_id == moved.c.outlet_id, StockLevel.product_id == moved.c.product_id)
    outlet_id = func.coalesce(StockLevel.outlet_id, moved.c.outlet_id)
    product_id = func.coalesce(StockLevel.product_id, moved.c.product_id)
    rows = session.execute(
        select(Outlet.code, Product.sku, StockLevel.on_hand, func.coalesce(moved.c.moved, 0))
        .select_from(StockLevel.__table__.join(moved, pair, full=True))
        .join(Outlet, Outlet.id == outlet_id)
        .join(Product, Product.id == product_id)
        .where(or_(StockLevel.on_hand.is_(None), StockLevel.on_hand != func.coalesce(moved.c.moved, 0)))
        .order_by(Outlet.code, Product.sku)
    )
    return [
        Violation(
            "stock",
            f"outlet {outlet} sku {sku}: "
            + (f"on hand {on_hand}" if on_hand is not None else "no stock level recorded")
            + f" but movements sum to {total}",
        )
        for outlet, sku, on_hand, total in rows
    ]


def _points(session: Session) -> list[Violation]:
    """Every customer's balance equals the sum of its loyalty ledger."""
    ledger = (
        select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points).label("points"))
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    summed = func.coalesce(ledger.c.points, 0)
    rows = session.execute(
        select(Company.code, Customer.code, Customer.points, summed)
        .join(Company, Company.id == Customer.company_id)
        .outerjoin(ledger, ledger.c.customer_id == Customer.id)
        .where(Customer.points != summed)
        .order_by(Company.code, Customer.code)
    )
    return [
        Violation(
            "loyalty", f"company {company} customer {code}: balance {points} points but its ledger sums to {total}"
        )
        for company, code, points, total in rows
    ]


def _negative_points(session: Session) -> list[Violation]:
    """No balance is below zero: a return never takes back more than its sale earned, and one
    without its sale never more than the customer holds."""
    rows = session.execute(
        select(Company.code, Customer.code, Customer.points)
        .join(Company, Company.id == Customer.company_id)
        .where(Customer.points < 0)
        .order_by(Company.code, Customer.code)
    )
    return [
        Violation("loyalty", f"company {company} customer {code}: a balance of {points} points, below zero")
        for company, code, points in rows
    ]


def _returns_within_sales(session: Session) -> list[Violation]:
    """The returns of a sale never give back more of a SKU than it sold, in quantity, amount or GST,
    nor refund more than its total (returns are stored negative)."""
    sold = (
        select(
            SaleLine.sale_id,
            SaleLine.sku,
            func.sum(SaleLine.quantity).label("quantity"),
            func.sum(SaleLine.amount).label("amount"),
            func.sum(SaleLine.tax).label("tax"),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.kind == "sale")
        .group_by(SaleLine.sale_id, SaleLine.sku)
        .subquery()
    )
    back = (
        select(
            Sale.original_sale_id.label("sale_id"),
            SaleLine.sku,
            (-func.sum(SaleLine.quantity)).label("quantity"),
            (-func.sum(SaleLine.amount)).label("amount"),
            (-func.sum(SaleLine.tax)).label("tax"),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(Sale.original_sale_id.is_not(None))
        .group_by(Sale.original_sale_id, SaleLine.sku)
        .subquery()
    )
    figures = [(back.c[name], func.coalesce(sold.c[name], 0)) for name in ("quantity", "amount", "tax")]
    rows = session.execute(
        select(Sale.transaction_number, back.c.sku, *(f for pair in figures for f in pair))
        .select_from(back)
        .join(Sale, Sale.id == back.c.sale_id)
        .outerjoin(sold, and_(sold.c.sale_id == back.c.sale_id, sold.c.sku == back.c.sku))
        .where(or_(*(returned > had for returned, had in figures)))
        .order_by(Sale.transaction_number, back.c.sku)
    )
    violations = []
    for number, sku, qty, sold_qty, amount, paid, tax, gst in rows:
        over = [
            f"quantity {_plain(qty)} of {_plain(sold_qty)} sold" if qty > sold_qty else "",
            f"{amount} of {paid} paid" if amount > paid else "",
            f"GST {tax} of {gst}" if tax > gst else "",
        ]
        text = ", ".join(part for part in over if part)
        violations.append(Violation("returns", f"sale {number} sku {sku}: its returns give back {text}"))
    return violations


def _refunds_within_totals(session: Session) -> list[Violation]:
    """Nor do its refunds, cash rounding included, come to more than its total."""
    refunded = (
        select(Sale.original_sale_id.label("sale_id"), (-func.sum(Sale.total)).label("refunded"))
        .where(Sale.original_sale_id.is_not(None))
        .group_by(Sale.original_sale_id)
        .subquery()
    )
    rows = session.execute(
        select(Sale.transaction_number, refunded.c.refunded, Sale.total)
        .join(refunded, refunded.c.sale_id == Sale.id)
        .where(refunded.c.refunded > Sale.total)
        .order_by(Sale.transaction_number)
    )
    return [
        Violation("returns", f"sale {number}: its returns refund {back} of the {total} it took")
        for number, back, total in rows
    ]


def _plain(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


def _sale_totals(session: Session) -> list[Violation]:
    """A sale's subtotal and GST are its lines', and its total is the subtotal (plus GST where the
    price excluded it) plus the cash rounding. Judged per sale from what was stored with it, so a
    company changing its GST mode later does not make old sales look wrong."""
    amounts = func.coalesce(func.sum(SaleLine.amount), 0)
    line_tax = func.coalesce(func.sum(SaleLine.tax), 0)
    before_rounding = Sale.total - Sale.rounding_adjustment
    rows = session.execute(
        select(
            Sale.transaction_number, Sale.total, Sale.subtotal, Sale.tax, Sale.rounding_adjustment, amounts, line_tax
        )
        .outerjoin(SaleLine, SaleLine.sale_id == Sale.id)
        .group_by(Sale.id)
        .having(
            (Sale.subtotal != amounts)
            | (Sale.tax != line_tax)
            | ((before_rounding != Sale.subtotal) & (before_rounding != Sale.subtotal + Sale.tax))
        )
        .order_by(Sale.transaction_number)
    )
    return [
        Violation(
            "sale_total",
            f"sale {number}: total {total}, subtotal {subtotal}, GST {tax}, rounding {rounding}, "
            f"but its lines come to {lines} with GST {gst}",
        )
        for number, total, subtotal, tax, rounding, lines, gst in rows
    ]


def _tendered(session: Session) -> list[Violation]:
    """What a sale says was tendered is what its tenders add up to."""
    summed = func.coalesce(func.sum(Tender.amount), 0)
    rows = session.execute(
        select(Sale.transaction_number, Sale.tendered, summed)
        .outerjoin(Tender, Tender.sale_id == Sale.id)
        .group_by(Sale.id)
        .having(Sale.tendered != summed)
        .order_by(Sale.transaction_number)
    )
    return [
        Violation("tendered", f"sale {number}: tendered {tendered} but its tenders sum to {total}")
        for number, tendered, total in rows
    ]


def _requests(session: Session) -> list[Violation]:
    """POSTED and DUPLICATE requests point at their sale; every sale was POSTED by exactly one request."""
    dangling = session.execute(
        select(
            SaleRequestRow.id,
            SaleRequestRow.request_id,
            SaleRequestRow.outcome,
            Sale.transaction_number,
            Sale.request_id,
        )
        .outerjoin(Sale, Sale.id == SaleRequestRow.sale_id)
        .where(SaleRequestRow.outcome.in_(("POSTED", "DUPLICATE")))
        .where(or_(Sale.id.is_(None), Sale.request_id != SaleRequestRow.request_id))
        .order_by(SaleRequestRow.id)
    )
    violations = [
        Violation(
            "intake",
            f"request {request_id} (intake #{intake_id}) is {outcome} but "
            + ("points at no sale" if number is None else f"points at sale {number} of request {sale_request}"),
        )
        for intake_id, request_id, outcome, number, sale_request in dangling
    ]
    posted = (
        select(func.count())
        .where(SaleRequestRow.sale_id == Sale.id, SaleRequestRow.outcome == "POSTED")
        .correlate(Sale)
        .scalar_subquery()
    )
    unposted = session.execute(
        select(Sale.transaction_number, Sale.request_id, posted).where(posted != 1).order_by(Sale.transaction_number)
    )
    for number, request_id, count in unposted:
        what = "has no POSTED request" if count == 0 else f"was POSTED by {count} requests"
        violations.append(Violation("intake", f"sale {number} (request {request_id}) {what} in the intake ledger"))
    return violations


def _reorder(session: Session) -> list[Violation]:
    """At most one open reorder suggestion per outlet and product."""
    rows = session.execute(
        select(Outlet.code, Product.sku, func.count())
        .select_from(ReorderSuggestion)
        .join(Outlet, Outlet.id == ReorderSuggestion.outlet_id)
        .join(Product, Product.id == ReorderSuggestion.product_id)
        .where(ReorderSuggestion.status == "OPEN")
        .group_by(Outlet.code, Product.sku)
        .having(func.count() > 1)
        .order_by(Outlet.code, Product.sku)
    )
    return [
        Violation("reorder", f"outlet {outlet} sku {sku}: {count} open reorder suggestions, where one at most belongs")
        for outlet, sku, count in rows
    ]
