"""A sale agrees with its own detail rows: its subtotal and GST are its lines', its total is the
subtotal (plus GST where the price excluded it) plus the cash rounding, its tenders less change pay
that total, and its stock movements are its lines' quantities.

Judged per sale from what was stored with it, so errors cannot cancel out across sales, and a company
changing its GST mode or stock tracking later does not make old sales look wrong. One implementation:
`tillpost check` lists the sales that break a rule, a batch's reconciliation counts its own.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Subquery, and_, func, or_, select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.tables import Sale, SaleLine, StockMovement, Tender

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def sales_against_their_details(*which: ColumnElement[bool]) -> Subquery:
    """Per sale (those matching `which`; all without): its figures, what its lines and tenders add up
    to, and a flag per rule: `lines_off`, `total_off`, `tenders_off`."""

    def of_which(query: Q, sale_id: Any) -> Q:
        # Every sale (`check`): no join back to the sales, which each detail row's foreign key implies.
        return query.join(Sale, Sale.id == sale_id).where(*which) if which else query

    lines = (
        of_which(
            select(SaleLine.sale_id, func.sum(SaleLine.amount).label("amount"), func.sum(SaleLine.tax).label("tax")),
            SaleLine.sale_id,
        )
        .group_by(SaleLine.sale_id)
        .subquery()
    )
    tenders = (
        of_which(select(Tender.sale_id, func.sum(Tender.amount).label("amount")), Tender.sale_id)
        .group_by(Tender.sale_id)
        .subquery()
    )
    line_amount, line_tax = func.coalesce(lines.c.amount, 0), func.coalesce(lines.c.tax, 0)
    tendered = func.coalesce(tenders.c.amount, 0)
    before_rounding = Sale.total - Sale.rounding_adjustment
    return (
        select(
            Sale.transaction_number,
            Sale.total,
            Sale.subtotal,
            Sale.tax,
            Sale.rounding_adjustment,
            Sale.tendered,
            line_amount.label("line_amount"),
            line_tax.label("line_tax"),
            tendered.label("tender_amount"),
            or_(Sale.subtotal != line_amount, Sale.tax != line_tax).label("lines_off"),
            and_(before_rounding != Sale.subtotal, before_rounding != Sale.subtotal + Sale.tax).label("total_off"),
            or_(Sale.tendered != tendered, Sale.tendered - Sale.change_due != Sale.total).label("tenders_off"),
        )
        .outerjoin(lines, lines.c.sale_id == Sale.id)
        .outerjoin(tenders, tenders.c.sale_id == Sale.id)
        .where(*which)
        .subquery("sales_against_their_details")
    )


def movements_unlike_lines(*which: ColumnElement[bool]) -> Select[Any]:
    """How many (sale, product) pairs of the sales matching `which` moved stock other than their lines
    sold (a return's lines are negative and move stock back in). A product that tracks no inventory
    moves nothing, so lines without movements are not counted."""

    def per_sale_product(sale_id: Any, product_id: Any, quantity: Any) -> Subquery:
        return (
            select(sale_id.label("sale_id"), product_id.label("product_id"), func.sum(quantity).label("quantity"))
            .join(Sale, Sale.id == sale_id)
            .where(*which)
            .group_by(sale_id, product_id)
            .subquery()
        )

    moved = per_sale_product(StockMovement.sale_id, StockMovement.product_id, StockMovement.quantity)
    sold = per_sale_product(SaleLine.sale_id, SaleLine.product_id, SaleLine.quantity)
    return (
        select(func.count())
        .select_from(moved)
        .outerjoin(sold, and_(sold.c.sale_id == moved.c.sale_id, sold.c.product_id == moved.c.product_id))
        .where(or_(sold.c.quantity.is_(None), moved.c.quantity != -sold.c.quantity))
    )


def sales_agree_with_their_lines_and_tenders(session: Session) -> list[Violation]:
    """Every sale whose totals disagree with its lines ("sale_total"), then every sale whose tenders do
    not pay what it says was tendered ("tendered")."""
    sales = sales_against_their_details()
    rows = session.execute(
        select(sales)
        .where(sales.c.lines_off | sales.c.total_off | sales.c.tenders_off)
        .order_by(sales.c.transaction_number)
    ).all()
    totals = [
        Violation(
            "sale_total",
            f"sale {s.transaction_number}: total {s.total}, subtotal {s.subtotal}, GST {s.tax}, "
            f"rounding {s.rounding_adjustment}, but its lines come to {s.line_amount} with GST {s.line_tax}",
        )
        for s in rows
        if s.lines_off or s.total_off
    ]
    tenders = [
        Violation(
            "tendered", f"sale {s.transaction_number}: tendered {s.tendered} but its tenders sum to {s.tender_amount}"
        )
        for s in rows
        if s.tenders_off
    ]
    return [*totals, *tenders]
