"""Stock on hand. Every change is an immutable movement, and on hand is kept equal to their sum.

THE lock order of stock rows: by outlet id, then product id (a sale touches one outlet, so its
rows go in product-id order), so two sales of the same products wait for each other instead of
deadlocking. The reorder check and the stock import lock in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session


class MovementKind(StrEnum):
    """Why stock moved. RECEIPT is goods received (not the customer's receipt, a follow-up)."""

    SALE = "SALE"
    RETURN = "RETURN"
    RECEIPT = "RECEIPT"
    ADJUSTMENT = "ADJUSTMENT"


def stock_moves(sale_id: str) -> str:
    """The SQL that records a `changes (product_id, quantity)` CTE's movements and applies them to on
    hand (creating a stock row on first use), as two CTEs, `movements` and `levels` (RETURNING
    product_id, on_hand). The upsert locks the rows it touches in the order it meets them: ORDER BY
    product id. `sale_id` is the SQL of the sale the movements belong to (NULL for none)."""
    return f"""
    movements AS (
        INSERT INTO stock_movements (outlet_id, product_id, kind, quantity, sale_id)
        SELECT :outlet_id, product_id, :movement_kind, quantity, {sale_id} FROM changes
    ), levels AS (
        INSERT INTO stock_levels AS level (outlet_id, product_id, on_hand)
        SELECT :outlet_id, product_id, quantity FROM changes ORDER BY product_id
        ON CONFLICT (outlet_id, product_id) DO UPDATE SET on_hand = level.on_hand + EXCLUDED.on_hand
        RETURNING product_id, on_hand
    )"""


# One round trip: record the movements and apply them to on hand.
MOVE_STOCK = text(f"""
    WITH changes AS (
        SELECT product_id, quantity
        FROM unnest(CAST(:product_ids AS integer[]), CAST(:quantities AS numeric[])) AS c(product_id, quantity)
    ), {stock_moves("CAST(:sale_id AS bigint)")}
    SELECT product_id, on_hand FROM levels
""")


def move_stock(
    session: Session | Connection,
    outlet_id: int,
    changes: Mapping[int, Decimal],
    kind: MovementKind | str,
    sale_id: int | None = None,
) -> dict[int, Decimal]:
    """Add each signed change to its (outlet, product) on hand and record the movements.

    Returns on hand after the change, by product id.
    """
    ordered = [(pid, qty) for pid, qty in sorted(changes.items()) if qty != 0]
    if not ordered:
        return {}
    params = {
        "outlet_id": outlet_id,
        "movement_kind": kind,
        "sale_id": sale_id,
        "product_ids": [pid for pid, _ in ordered],
        "quantities": [qty for _, qty in ordered],
    }
    return {row.product_id: row.on_hand for row in session.execute(MOVE_STOCK, params)}
