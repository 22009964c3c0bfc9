"""Stock on hand. Every change is an immutable movement, and on hand is kept equal to their sum.

THE lock order of the whole ledger lives here: stock rows are always locked in product-id order,
so two sales of the same products wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import Connection, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.tables import StockLevel, StockMovement, core


def move_stock(
    session: Session | Connection, outlet_id: int, changes: Mapping[int, Decimal], kind: str, sale_id: int | None = None
) -> dict[int, Decimal]:
    """Add each signed change to its (outlet, product) on hand and record the movements.

    Returns on hand after the change, by product id. Rows are created on first use and locked
    by the upsert itself, one statement, in ascending product id.
    """
    ordered = [(pid, qty) for pid, qty in sorted(changes.items()) if qty != 0]
    if not ordered:
        return {}
    levels = core(StockLevel)
    rows = pg_insert(levels).values(
        [{"outlet_id": outlet_id, "product_id": pid, "on_hand": qty} for pid, qty in ordered]
    )
    upsert = rows.on_conflict_do_update(
        index_elements=[levels.c.outlet_id, levels.c.product_id],
        set_={"on_hand": levels.c.on_hand + rows.excluded.on_hand},
    ).returning(levels.c.product_id, levels.c.on_hand)
    after: dict[int, Decimal] = dict(session.execute(upsert).all())
    session.execute(
        insert(core(StockMovement)),
        [
            {"outlet_id": outlet_id, "product_id": pid, "kind": kind, "quantity": qty, "sale_id": sale_id}
            for pid, qty in ordered
        ],
    )
    return after
