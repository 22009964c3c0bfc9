"""A batch's summary: counts by outcome and reason, totals, and the reconciliation.

The reconciliation recomputes the batch's totals from the ledger's detail rows (lines, tenders,
stock movements) and compares them with the sale headers and the intake outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from domain import heartbeat
from domain.errors import NotFound
from domain.followups.failures import failed_of_batch
from domain.tables import Batch, Outlet, Sale, SaleLine, SaleRequestRow, Tender

OUTCOMES = ("POSTED", "DUPLICATE", "CONFLICT", "REJECTED", "PENDING")
ZERO = Decimal("0.00")


def batch_show(session: Session, batch_id: int) -> dict[str, Any]:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound("batch", str(batch_id))
    counts = dict.fromkeys(OUTCOMES, 0)
    reasons: dict[str, int] = {}
    for outcome, reason, n in session.execute(
        select(SaleRequestRow.outcome, SaleRequestRow.reason, func.count())
        .where(SaleRequestRow.batch_id == batch_id)
        .group_by(SaleRequestRow.outcome, SaleRequestRow.reason)
    ):
        counts[outcome] += n
        if reason:
            reasons[reason] = reasons.get(reason, 0) + n
    totals = _totals(session, batch_id)
    checks = _reconcile(session, batch_id, counts["POSTED"])
    failed_count, failed = failed_of_batch(session, batch_id)
    return {
        "id": batch.id,
        "source": batch.source,
        "state": batch.state,
        "requests": batch.requests,
        "counts": counts,
        "reasons": dict(sorted(reasons.items())),
        "totals": totals,
        "reconciled": all(c["ok"] for c in checks),
        "reconciliation": checks,
        "failed_follow_ups": failed,  # the first 100 (by sale): kind, sale, request_id, error, attempts
        "failed_follow_ups_total": failed_count,
        "created_at": batch.created_at.isoformat(),
        "posted_at": batch.posted_at.isoformat() if batch.posted_at else None,
        "done_at": batch.done_at.isoformat() if batch.done_at else None,
        "sweeper": heartbeat.status(session, "sweeper"),  # when undone work was last sent again
    }


def _totals(session: Session, batch_id: int) -> dict[str, Any]:
    of_batch = Sale.batch_id == batch_id
    sales, tax = session.execute(
        select(func.coalesce(func.sum(Sale.total), ZERO), func.coalesce(func.sum(Sale.tax), ZERO)).where(of_batch)
    ).one()
    by_outlet = {
        code: {"sales": str(total), "tax": str(t), "count": n}
        for code, total, t, n in session.execute(
            select(Outlet.code, func.sum(Sale.total), func.sum(Sale.tax), func.count())
            .join(Outlet, Outlet.id == Sale.outlet_id)
            .where(of_batch)
            .group_by(Outlet.code)
            .order_by(Outlet.code)
        )
    }
    by_tender = {
        method: str(amount)
        for method, amount in session.execute(
            select(Tender.method, func.sum(Tender.amount))
            .join(Sale, Sale.id == Tender.sale_id)
            .where(of_batch)
            .group_by(Tender.method)
            .order_by(Tender.method)
        )
    }
    change = session.scalar(select(func.coalesce(func.sum(Sale.change_due), ZERO)).where(of_batch)) or ZERO
    if change and "CASH" in by_tender:
        by_tender["CASH"] = str(Decimal(by_tender["CASH"]) - change)  # cash kept, after change given
    by_gst_rate = {
        str(rate): {"amount": str(amount), "tax": str(t)}
        for rate, amount, t in session.execute(
            select(SaleLine.gst_rate, func.sum(SaleLine.amount), func.sum(SaleLine.tax))
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(of_batch)
            .group_by(SaleLine.gst_rate)
            .order_by(SaleLine.gst_rate)
        )
    }
    return {
        "sales": str(sales),
        "tax": str(tax),
        "by_outlet": by_outlet,
        "by_tender": by_tender,
        "by_gst_rate": by_gst_rate,
    }


# Each sale checked against its own detail rows, so errors cannot cancel out across a batch, and
# nothing depends on settings that may have changed since (GST mode, stock tracking).
PER_SALE = text("""
    WITH s AS (SELECT * FROM sales WHERE batch_id = :batch_id),
    l AS (SELECT sale_id, sum(amount) AS amount, sum(tax) AS tax FROM sale_lines
          WHERE sale_id IN (SELECT id FROM s) GROUP BY sale_id),
    t AS (SELECT sale_id, sum(amount) AS amount FROM tenders WHERE sale_id IN (SELECT id FROM s) GROUP BY sale_id)
    SELECT count(*) AS sales,
           count(*) FILTER (WHERE s.subtotal <> coalesce(l.amount, 0) OR s.tax <> coalesce(l.tax, 0)) AS lines,
           count(*) FILTER (WHERE s.total - s.rounding_adjustment NOT IN (s.subtotal, s.subtotal + s.tax)) AS totals,
           count(*) FILTER (WHERE s.tendered <> coalesce(t.amount, 0) OR s.tendered - s.change_due <> s.total)
               AS tenders
    FROM s LEFT JOIN l ON l.sale_id = s.id LEFT JOIN t ON t.sale_id = s.id
""")
STOCK_PER_SALE = text("""
    WITH moved AS (SELECT m.sale_id, m.product_id, sum(m.quantity) AS quantity FROM stock_movements m
                   JOIN sales s ON s.id = m.sale_id WHERE s.batch_id = :batch_id GROUP BY 1, 2),
    sold AS (SELECT l.sale_id, l.product_id, sum(l.quantity) AS quantity FROM sale_lines l
             JOIN sales s ON s.id = l.sale_id WHERE s.batch_id = :batch_id GROUP BY 1, 2)
    SELECT count(*) FROM moved LEFT JOIN sold USING (sale_id, product_id)
    WHERE sold.quantity IS NULL OR moved.quantity <> -sold.quantity
""")


def _reconcile(session: Session, batch_id: int, posted: int) -> list[dict[str, Any]]:
    counts = session.execute(PER_SALE, {"batch_id": batch_id}).one()
    stock_off = session.scalar(STOCK_PER_SALE, {"batch_id": batch_id})

    def check(name: str, expected: Any, actual: Any) -> dict[str, Any]:
        return {"check": name, "expected": str(expected), "actual": str(actual), "ok": expected == actual}

    return [
        check("posted requests = sales in the ledger", posted, counts.sales),
        check("sales whose subtotal or GST differs from their lines", 0, counts.lines),
        check("sales whose total is not subtotal (+ GST where excluded) + rounding", 0, counts.totals),
        check("sales whose tenders less change differ from their total", 0, counts.tenders),
        check("sales whose stock movements differ from their quantities", 0, stock_off),
    ]


def batch_list(session: Session, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Batch.id, Batch.source, Batch.state, Batch.requests, Batch.created_at)
        .order_by(Batch.id.desc())
        .limit(limit)
    )
    return [
        {"id": i, "source": src, "state": st, "requests": n, "created_at": at.isoformat()} for i, src, st, n, at in rows
    ]


def progress(session: Session, batch_id: int) -> dict[str, int]:
    """Cheap counts for a progress bar."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome, n in session.execute(
        select(SaleRequestRow.outcome, func.count())
        .where(SaleRequestRow.batch_id == batch_id)
        .group_by(SaleRequestRow.outcome)
    ):
        counts[outcome] = n
    return counts


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
        .outerjoin(Sale, (Sale.id == SaleRequestRow.sale_id) & (SaleRequestRow.outcome == "POSTED"))
        .where(SaleRequestRow.batch_id == batch_id)
        .order_by(SaleRequestRow.id)
        .execution_options(yield_per=5000)
    )
    for row in rows:
        doc = dict(zip(REPORT_COLUMNS, row, strict=True))
        doc["total"] = None if doc["total"] is None else str(doc["total"])
        yield doc
