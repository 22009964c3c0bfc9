"""`batch show` costs the same whatever the batch's size: it reads the batch's running tallies and
the reconciliation stored when the batch settled, never the batch's requests or sales.

Measured as PostgreSQL reports it: every statement `batch show` sends is run again under
EXPLAIN ANALYZE, and the rows each plan node read (returned, or removed by a filter) are added up.
The batches are posted in process (staging and the posting and follow-up use cases, no worker), so
a batch of ten times the sales takes seconds, not minutes.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, select, text

from domain.batches.entries import Entry
from domain.db import make_engine
from domain.tables import SaleRequestRow
from domain.vocabulary import FollowUpKind
from services import lookups
from services.batches import stage_batch
from services.followups import run_follow_up
from services.posting import post_chunk
from services.unit_of_work import Database
from tests.shop import make_shop, sale

SMALL = 100


def day(name: str, count: int) -> list[Entry]:
    """`count` requests cycling through the same outlets, tenders, GST rates and one rejection reason,
    so a batch of any size has the same tallies to read."""

    def request(n: int) -> dict[str, Any]:
        if n % 10 == 9:
            return sale(f"{name}-{n}", [("NOSUCH", "1")], [("CASH", "5.00")])
        if n % 2:
            return sale(f"{name}-{n}", [("TEA", "1"), ("MUG", "1")], [("CARD", "17.40")], customer="C001")
        return sale(f"{name}-{n}", [("TEA", "2")], [("CASH", "10.00")], outlet="WEB" if n % 4 else "ORCH")

    return [Entry(n + 1, request(n)) for n in range(count)]


def post_to_done(db: Database, name: str, count: int) -> int:
    batch_id = stage_batch(db, name, name, lambda: day(name, count)).batch_id
    query = select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id).order_by(SaleRequestRow.id)
    posted = post_chunk(db, db.read(lambda s: list(s.scalars(query))))
    for kind in (FollowUpKind.REORDER, FollowUpKind.LOYALTY, FollowUpKind.CUSTOMER_RECEIPT):
        run_follow_up(db, kind, posted.new_sales)
    return batch_id


def rows_read(engine: Any, db: Database, batch_id: int, reconcile: bool = False) -> tuple[int, int]:
    """(statements, rows their plans read) for one `batch show`."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        document = lookups.batch_show(db, batch_id, reconcile=reconcile)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert document["state"] == "DONE" and document["reconciled"] is True, document
    with engine.connect() as conn:
        plans = [
            conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar()
            for statement, parameters in sent
        ]
    return len(sent), sum(
        _rows(plan[0]["Plan"] if isinstance(plan, list) else json.loads(plan)[0]["Plan"]) for plan in plans
    )


def _rows(node: dict[str, Any]) -> int:
    """Rows a plan node and those under it read: returned or filtered out, over all its loops."""
    per_loop = (
        node["Actual Rows"] + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    )
    return int(per_loop * node["Actual Loops"]) + sum(_rows(child) for child in node.get("Plans", ()))


def test_batch_show_reads_as_many_rows_for_ten_times_the_sales(sessions, database_url, engine):
    # Given two settled batches, one ten times the other, posted through one connection (one backend,
    # so each batch's tallies are kept in the same number of rows)
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 100_000, "MUG": 100_000})
    one_backend = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        db = Database(one_backend)
        small, large = post_to_done(db, "SMALL", SMALL), post_to_done(db, "LARGE", 10 * SMALL)
    finally:
        one_backend.dispose()
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    shown = Database(engine)

    # When each is shown
    small_cost, large_cost = rows_read(engine, shown, small), rows_read(engine, shown, large)

    # Then both send the same statements and read the same number of rows, fewer than the small batch's sales
    assert small_cost == large_cost, (small_cost, large_cost)
    assert small_cost[1] < SMALL, small_cost

    # While reconciling again now (--reconcile) reads the batch: ten times the sales, more rows
    small_reconciled, large_reconciled = (rows_read(engine, shown, b, reconcile=True)[1] for b in (small, large))
    assert large_reconciled > small_reconciled + 9 * SMALL, (small_reconciled, large_reconciled)
