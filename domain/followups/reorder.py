"""Reorder suggestions: when a shelf falls to its reorder point, one open suggestion says how much
to order from whom; a later low sale refreshes it, and stock rising above the point closes it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from domain.db import dumps
from domain.tables import Product, Sale, SaleLine, StockLevel, among


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
    recovered = [
        {"outlet_id": lv.outlet_id, "product_id": lv.product_id} for lv in levels if lv.on_hand > lv.reorder_point
    ]
    if low:
        session.execute(_KEEP_OPEN, {"rows": dumps(low)})
    if recovered:
        session.execute(_CLOSE, {"pairs": dumps(recovered)})


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


# The suggestions' two statements take their rows as one JSON parameter: one statement whatever the
# number of rows, compiled, parsed and prepared once (a row a parameter set, they were new each time).
# Keeping one open: insert it, or refresh the one already open (the partial unique index
# uq_reorder_open allows one per outlet and product). Rows arrive in product id order.
_KEEP_OPEN = text("""
    INSERT INTO reorder_suggestions AS open (outlet_id, product_id, supplier_id, on_hand, reorder_point,
                                             suggested_quantity)
    SELECT outlet_id, product_id, supplier_id, on_hand, reorder_point, suggested_quantity
    FROM json_to_recordset(CAST(:rows AS json)) AS r(outlet_id integer, product_id integer, supplier_id integer,
                                                    on_hand numeric, reorder_point numeric, suggested_quantity numeric)
    ON CONFLICT (outlet_id, product_id) WHERE status = 'OPEN'
    DO UPDATE SET on_hand = excluded.on_hand, reorder_point = excluded.reorder_point,
                  suggested_quantity = excluded.suggested_quantity, updated_at = now()
""")
_CLOSE = text("""
    UPDATE reorder_suggestions SET status = 'CLOSED', updated_at = now()
    WHERE status = 'OPEN' AND (outlet_id, product_id) IN (
        SELECT outlet_id, product_id
        FROM json_to_recordset(CAST(:pairs AS json)) AS p(outlet_id integer, product_id integer)
    )
""")
