"""Stock invariants: on hand is the sum of the movements; one open reorder suggestion at the most."""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.tables import Outlet, Product, ReorderSuggestion, StockLevel, StockMovement, core_table


def on_hand_is_sum_of_movements(session: Session) -> list[Violation]:
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
        .select_from(core_table(StockLevel).join(moved, pair, full=True))
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


def one_open_reorder_suggestion(session: Session) -> list[Violation]:
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
