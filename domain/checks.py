"""Ledger invariants, checked from the stored rows alone (`tillpost check`). Each violation says,
in a shop manager's words, which outlet, product, customer, sale or request is off and by what."""

from __future__ import annotations

from dataclasses import dataclass

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
