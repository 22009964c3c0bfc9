"""Read models for the CLI and the HTTP intake: the JSON documents of ../shared/CLI.md."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from domain.errors import AmbiguousCode, NotFound
from domain.tables import (
    Company,
    Customer,
    LoyaltyEntry,
    Outlet,
    Product,
    ReorderSuggestion,
    Sale,
    SaleRequestRow,
    StockLevel,
    Supplier,
)
from domain.vocabulary import Outcome

SALE_KEYS = ("transaction_number", "subtotal", "tax", "rounding_adjustment", "total", "change_due")


def _money(value: Any) -> str | None:
    return None if value is None else str(value)


def outcomes(session: Session, intake_ids: list[int]) -> list[dict[str, Any]]:
    """One `sale show` document per intake row, in the order given (this submission's own outcome)."""
    points = select(LoyaltyEntry.points).where(LoyaltyEntry.sale_id == Sale.id).correlate(Sale).scalar_subquery()
    rows = session.execute(
        select(
            SaleRequestRow.id,
            SaleRequestRow.request_id,
            SaleRequestRow.outcome,
            SaleRequestRow.reason,
            SaleRequestRow.message,
            SaleRequestRow.details,
            Sale.transaction_number,
            Sale.subtotal,
            Sale.tax,
            Sale.rounding_adjustment,
            Sale.total,
            Sale.change_due,
            points.label("points_earned"),
        )
        # A CONFLICT names the sale it collided with, but that sale's amounts are not this request's.
        .outerjoin(Sale, (Sale.id == SaleRequestRow.sale_id) & (SaleRequestRow.outcome != Outcome.CONFLICT))
        .where(SaleRequestRow.id.in_(intake_ids))
    ).all()
    by_id = {row.id: row for row in rows}
    return [_document(by_id[i]) for i in intake_ids if i in by_id]


def _document(row: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "request_id": row.request_id,
        "outcome": row.outcome,
        "reason": row.reason,
        "message": row.message,
    }
    for key in SALE_KEYS:
        value = getattr(row, key)
        doc[key] = value if key == "transaction_number" else _money(value)
    doc["points_earned"] = row.points_earned
    if row.details and row.details.get("errors"):
        doc["errors"] = row.details["errors"]
    return doc


def company_id(session: Session, code: str) -> int:
    found = session.scalar(select(Company.id).where(Company.code == code))
    if found is None:
        raise NotFound("company", code)
    return found


def _only_company(session: Session, what: str, key: str, company_ids: Select[Any]) -> None:
    """A code unique only per company, without a company named: refuse to guess between several."""
    codes = list(session.scalars(select(Company.code).where(Company.id.in_(company_ids)).order_by(Company.code)))
    if len(codes) > 1:
        raise AmbiguousCode(what, key, codes)


def _company_of_submission() -> ColumnElement[Any]:
    """The company a submission belongs to: the one it was decided for, or, while it is still
    PENDING, the company of the outlet it names (NULL when that outlet is unknown)."""
    by_outlet = select(Outlet.company_id).where(Outlet.code == SaleRequestRow.payload["outlet"].astext)
    return func.coalesce(SaleRequestRow.company_id, by_outlet.scalar_subquery())


def sale_show(session: Session, request_id: str, company: str | None = None) -> dict[str, Any]:
    """The request's outcome: the submission that posted it if any, else its latest submission.

    A request id is unique per company: with `company`, that company's submissions (and those not
    yet tied to any company: still PENDING, or naming no known outlet); without, AmbiguousCode when
    submissions of several companies match.
    """
    query = select(SaleRequestRow.id).where(SaleRequestRow.request_id == request_id)
    owner_of_row = _company_of_submission()
    if company is not None:
        owner = company_id(session, company)
        query = query.where(or_(owner_of_row == owner, owner_of_row.is_(None)))
    else:
        _only_company(session, "sale request", request_id, query.with_only_columns(owner_of_row))
    chosen = session.scalar(
        query.order_by((SaleRequestRow.outcome == Outcome.POSTED).desc(), SaleRequestRow.id.desc()).limit(1)
    )
    if chosen is None:
        raise NotFound("sale request", request_id)
    return outcomes(session, [chosen])[0]


def stock_show(session: Session, outlet: str, sku: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(Outlet.code, Product.sku, StockLevel.on_hand)
        .join(Outlet, Outlet.id == StockLevel.outlet_id)
        .join(Product, Product.id == StockLevel.product_id)
        .where(Outlet.code == outlet)
        .order_by(Product.sku)
    )
    if sku is not None:
        query = query.where(Product.sku == sku)
    rows = session.execute(query).all()
    if not rows and session.scalar(select(Outlet.id).where(Outlet.code == outlet)) is None:
        raise NotFound("outlet", outlet)
    return [{"outlet": o, "sku": s, "on_hand": str(q)} for o, s, q in rows]


def customer_show(session: Session, code: str, company: str | None = None) -> dict[str, Any]:
    """A customer's balance and ledger; a customer code is unique per company (see sale_show)."""
    query = select(Customer.id, Customer.code, Customer.points).where(Customer.code == code)
    if company is not None:
        query = query.where(Customer.company_id == company_id(session, company))
    else:
        _only_company(session, "customer", code, query.with_only_columns(Customer.company_id))
    customer = session.execute(query).first()
    if customer is None:
        raise NotFound("customer", code)
    entries = session.execute(
        select(Sale.transaction_number, LoyaltyEntry.points)
        .join(Sale, Sale.id == LoyaltyEntry.sale_id)
        .where(LoyaltyEntry.customer_id == customer.id)
        .order_by(LoyaltyEntry.id)
    ).all()
    return {
        "code": customer.code,
        "points": customer.points,
        "entries": [{"sale": number, "points": pts} for number, pts in entries],
    }


def reorder_list(session: Session, outlet: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(
            Outlet.code,
            Product.sku,
            ReorderSuggestion.on_hand,
            ReorderSuggestion.reorder_point,
            ReorderSuggestion.suggested_quantity,
            Supplier.name,
        )
        .join(Outlet, Outlet.id == ReorderSuggestion.outlet_id)
        .join(Product, Product.id == ReorderSuggestion.product_id)
        .outerjoin(Supplier, Supplier.id == ReorderSuggestion.supplier_id)
        .where(ReorderSuggestion.status == "OPEN")
        .order_by(Outlet.code, Product.sku)
    )
    if outlet is not None:
        query = query.where(Outlet.code == outlet)
    return [
        {
            "outlet": o,
            "sku": s,
            "on_hand": str(q),
            "reorder_point": str(p),
            "suggested_quantity": str(n),
            "supplier": sup,
        }
        for o, s, q, p, n, sup in session.execute(query)
    ]


def count_pending(session: Session, intake_ids: list[int]) -> int:
    return (
        session.scalar(
            select(func.count()).where(SaleRequestRow.id.in_(intake_ids), SaleRequestRow.outcome == Outcome.PENDING)
        )
        or 0
    )


def require_sale_of(session: Session, transaction_number: str, company: str) -> None:
    """NotFound unless the sale numbered `transaction_number` belongs to `company`."""
    owner = company_id(session, company)
    found = session.scalar(
        select(Sale.id).where(Sale.transaction_number == transaction_number, Sale.company_id == owner)
    )
    if found is None:
        raise NotFound("receipt", transaction_number, {"company": company})
