"""Return invariants: the returns of a sale never give back more than it sold, nor refund more than it took."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, func, or_, select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.posting.money import without_trailing_zeros
from domain.posting.request import Kind
from domain.tables import Sale, SaleLine

FIGURES = ("quantity", "amount", "tax")


def returns_within_sales(session: Session) -> list[Violation]:
    """The returns of a sale never give back more of a SKU than it sold, in quantity, amount or GST
    (returns are stored negative)."""
    returned = select(Sale.original_sale_id).where(Sale.original_sale_id.is_not(None))
    # Only sales that have returns are summed: the others' lines are never compared with anything.
    sold = _per_sku(SaleLine.sale_id, and_(Sale.kind == Kind.SALE, Sale.id.in_(returned)), given_back=False)
    back = _per_sku(Sale.original_sale_id, Sale.original_sale_id.is_not(None), given_back=True)
    figures = [(back.c[name], func.coalesce(sold.c[name], 0)) for name in FIGURES]
    rows = session.execute(
        select(Sale.transaction_number, back.c.sku, *(f for pair in figures for f in pair))
        .select_from(back)
        .join(Sale, Sale.id == back.c.sale_id)
        .outerjoin(sold, and_(sold.c.sale_id == back.c.sale_id, sold.c.sku == back.c.sku))
        .where(or_(*(returned > had for returned, had in figures)))
        .order_by(Sale.transaction_number, back.c.sku)
    )
    return [
        Violation("returns", f"sale {number} sku {sku}: its returns give back {_too_much(*figures)}")
        for number, sku, *figures in rows
    ]


def _per_sku(sale_id: Any, which: ColumnElement[bool], *, given_back: bool) -> Subquery:
    """Quantity, amount and GST per (sale, SKU) of the lines of `which` sales; `given_back` counts
    returns' lines (stored negative) as what they give back to `sale_id`, their original."""
    sums = [func.sum(getattr(SaleLine, name)) for name in FIGURES]
    return (
        select(
            sale_id.label("sale_id"),
            SaleLine.sku,
            *((-total if given_back else total).label(name) for total, name in zip(sums, FIGURES, strict=True)),
        )
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where(which)
        .group_by(sale_id, SaleLine.sku)
        .subquery()
    )


def _too_much(qty: Decimal, sold_qty: Decimal, amount: Decimal, paid: Decimal, tax: Decimal, gst: Decimal) -> str:
    over = [
        f"quantity {without_trailing_zeros(qty)} of {without_trailing_zeros(sold_qty)} sold" if qty > sold_qty else "",
        f"{amount} of {paid} paid" if amount > paid else "",
        f"GST {tax} of {gst}" if tax > gst else "",
    ]
    return ", ".join(part for part in over if part)


def refunds_within_totals(session: Session) -> list[Violation]:
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
