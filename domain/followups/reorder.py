"""Reorder suggestions: when a shelf falls to its reorder point, one open suggestion says how much
to order from whom; a later low sale refreshes it, and stock rising above the point closes it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.tables import Product, ReorderSuggestion, Sale, SaleLine, StockLevel, among


def check_reorder(session: Session, sale_ids: list[int]) -> None:
    """For every (outlet, product) these sales touched that tracks inventory and has a reorder
    point: at or below it, keep exactly one open suggestion with today's figures; above it, close it.

    Reads on hand as it is now (not as the sale left it), so sales checked out of order still end
    with the suggestion matching the shelf. The stock rows are locked (by outlet id, then product id)
    for the rest of the transaction, and they guard that pair's suggestions too.
    """
    levels = _locked_levels(session, sale_ids)
    low = [
        {
            "outlet_id": level.outlet_id,
            "product_id": level.product_id,
            "supplier_id": level.supplier_id,
            "on_hand": level.on_hand,
            "reorder_point": level.reorder_point,
            "suggested_quantity": suggested_quantity(level.on_hand, level.reorder_point, level.reorder_target),
        }
        for level in levels
        if level.on_hand <= level.reorder_point
    ]
    recovered = [(level.outlet_id, level.product_id) for level in levels if level.on_hand > level.reorder_point]
    if low:
        _keep_open(session, low)
    if recovered:
        session.execute(
            update(ReorderSuggestion)
            .where(
                ReorderSuggestion.status == "OPEN",
                tuple_(ReorderSuggestion.outlet_id, ReorderSuggestion.product_id).in_(recovered),
            )
            .values(status="CLOSED", updated_at=func.now())
        )


def _locked_levels(session: Session, sale_ids: list[int]) -> list[Any]:
    """On hand and reorder settings of each (outlet, product) these sales touched that tracks
    inventory and has a reorder point, locked in the ledger's one order."""
    touched = (
        select(Sale.outlet_id, SaleLine.product_id)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .join(Product, Product.id == SaleLine.product_id)
        .where(among(SaleLine.sale_id, sale_ids), Product.track_inventory, Product.reorder_point.is_not(None))
    )
    return list(
        session.execute(
            select(
                StockLevel.outlet_id,
                StockLevel.product_id,
                StockLevel.on_hand,
                Product.reorder_point,
                Product.reorder_target,
                Product.supplier_id,
            )
            .join(Product, Product.id == StockLevel.product_id)
            .where(tuple_(StockLevel.outlet_id, StockLevel.product_id).in_(touched))
            .order_by(StockLevel.outlet_id, StockLevel.product_id)
            .with_for_update(of=StockLevel)
        ).all()
    )


def suggested_quantity(on_hand: Decimal, reorder_point: Decimal, reorder_target: Decimal | None) -> Decimal:
    """Enough to bring stock back to its target (the reorder point when no target is set). When that
    is nothing (on hand sits exactly at a point with no target above it), enough to rise above it."""
    wanted = (reorder_target if reorder_target is not None else reorder_point) - on_hand
    return wanted if wanted > 0 else reorder_point - on_hand + 1


def _keep_open(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the open suggestion, or refresh the one already open (the partial unique index
    uq_reorder_open allows one per outlet and product). Rows arrive in product id order."""
    upsert = pg_insert(ReorderSuggestion).values(rows)
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[ReorderSuggestion.outlet_id, ReorderSuggestion.product_id],
            index_where=text("status = 'OPEN'"),
            set_={
                "on_hand": upsert.excluded.on_hand,
                "reorder_point": upsert.excluded.reorder_point,
                "suggested_quantity": upsert.excluded.suggested_quantity,
                "updated_at": func.now(),
            },
        )
    )
