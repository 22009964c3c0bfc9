"""A batch's summary: counts by outcome and reason, totals, and the reconciliation.

Counts and totals are the batch's running tallies (domain/batches/tallies.py): a few rows to read
whatever the batch's size. The reconciliation recomputes the batch's totals from the ledger's detail
rows (lines, tenders, stock movements) and compares them with the sale headers, the intake outcomes
and the tallies: a scan of the batch, so it runs once, when the batch settles (DONE or ATTENTION),
and is stored; `batch show --reconcile` runs it again now. Before it settles (and after a replay
reopened it) the stored reconciliation is null: not yet computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.batches import tallies
from domain.batches.document import OUTCOMES, batch_document
from domain.checks.sales import movements_unlike_lines, sales_against_their_details
from domain.errors import NotFound
from domain.posting.money import ZERO
from domain.tables import Batch, Sale, SaleRequestRow
from domain.vocabulary import Outcome


def batch_show(session: Session, batch_id: int, reconcile: bool = False) -> dict[str, Any]:
    """The batch document of `batch show` (domain/batches/document.py); `reconcile` runs the
    reconciliation now instead of showing the one stored when the batch settled."""
    document = batch_document(session, batch_id)
    if reconcile:
        checks = reconciliation(session, batch_id, tallies.read(session, batch_id))
        document["reconciled"] = all(c["ok"] for c in checks)
        document["reconciliation"] = checks
        document["reconciled_at"] = session.execute(select(func.now())).scalar_one().isoformat()
    return document


def store_reconciliation(session: Session, batch_id: int) -> None:
    """Reconcile the batch now and keep the result (once it settled: its sales no longer change)."""
    checks = reconciliation(session, batch_id, tallies.read(session, batch_id))
    session.execute(update(Batch).where(Batch.id == batch_id).values(reconciliation=checks, reconciled_at=func.now()))


def reconciliation(session: Session, batch_id: int, tally: tallies.Tallies) -> list[dict[str, Any]]:
    """The batch's sales, each checked against its own detail rows (domain/checks/sales.py), and the
    batch's running tallies against what the ledger holds for it."""
    of_batch = Sale.batch_id == batch_id
    sales = sales_against_their_details(of_batch)
    counts = session.execute(
        select(
            func.count().label("sales"),
            func.coalesce(func.sum(sales.c.total), ZERO).label("total"),
            func.coalesce(func.sum(sales.c.tax), ZERO).label("tax"),
            func.count().filter(sales.c.lines_off).label("lines"),
            func.count().filter(sales.c.total_off).label("totals"),
            func.count().filter(sales.c.tenders_off).label("tenders"),
        ).select_from(sales)
    ).one()
    stock_off = session.scalar(movements_unlike_lines(of_batch))
    _, tallied_total, tallied_tax = tally.rows.get(("sales", ""), (0, ZERO, ZERO))

    def check(name: str, expected: Any, actual: Any) -> dict[str, Any]:
        return {"check": name, "expected": str(expected), "actual": str(actual), "ok": expected == actual}

    return [
        check("posted requests = sales in the ledger", tally.n("outcome", Outcome.POSTED), counts.sales),
        check("batch total = the ledger's sales of the batch", tallied_total, Decimal(counts.total)),
        check("batch GST = the ledger's sales of the batch", tallied_tax, Decimal(counts.tax)),
        check("sales whose subtotal or GST differs from their lines", 0, counts.lines),
        check("sales whose total is not subtotal (+ GST where excluded) + rounding", 0, counts.totals),
        check("sales whose tenders less change differ from their total", 0, counts.tenders),
        check("sales whose stock movements differ from their quantities", 0, stock_off),
    ]


def progress(session: Session, batch_id: int) -> dict[str, int]:
    """Counts for a progress bar: the batch's tallies (a few rows, whatever its size)."""
    tally = tallies.read(session, batch_id)
    return {outcome: tally.n("outcome", outcome) for outcome in OUTCOMES} | {
        "follow_ups": tally.n("follow_ups"),
        "follow_ups_settled": tally.n("follow_ups", "settled"),
        "follow_ups_failed": tally.n("follow_ups", "failed"),
    }


REPORT_COLUMNS = ("line_no", "request_id", "outcome", "reason", "message", "transaction_number", "total")


def batch_requests(session: Session, batch_id: int) -> Iterator[dict[str, Any]]:
    """Every request of the batch with its outcome, in file order (streamed: fine for a million rows)."""
    if session.get(Batch, batch_id) is None:
        raise NotFound("batch", str(batch_id))
    rows = session.execute(
        select(
            SaleRequestRow.line_no,
            SaleRequestRow.request_id,
            SaleRequestRow.outcome,
            SaleRequestRow.reason,
            SaleRequestRow.message,
            Sale.transaction_number,
            Sale.total,
        )
        .outerjoin(Sale, (Sale.id == SaleRequestRow.sale_id) & (SaleRequestRow.outcome == Outcome.POSTED))
        .where(SaleRequestRow.batch_id == batch_id)
        .order_by(SaleRequestRow.id)
        .execution_options(yield_per=5000)
    )
    for row in rows:
        doc = dict(zip(REPORT_COLUMNS, row, strict=True))
        doc["total"] = None if doc["total"] is None else str(doc["total"])
        yield doc
