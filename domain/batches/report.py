"""A batch's summary: counts by outcome and reason, totals, and the reconciliation.

The reconciliation recomputes the batch's totals from the ledger's detail rows (lines, tenders,
stock movements) and compares them with the sale headers and the intake outcomes.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from domain import heartbeat
from domain.checks.sales import movements_unlike_lines, sales_against_their_details
from domain.errors import NotFound
from domain.followups.failures import failed_of_batch
from domain.posting.money import ZERO
from domain.posting.request import TenderMethod
from domain.tables import Batch, Outlet, Sale, SaleLine, SaleRequestRow, Tender
from domain.vocabulary import DECIDED, Outcome

OUTCOMES = (*DECIDED, Outcome.PENDING)  # the order of `counts` in `batch show`


def batch_show(session: Session, batch_id: int) -> dict[str, Any]:
    batch = session.get(Batch, batch_id)
    if batch is None:
        raise NotFound("batch", str(batch_id))
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
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
    checks = _reconcile(session, batch_id, counts[Outcome.POSTED])
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
    return {
        "sales": str(sales),
        "tax": str(tax),
        "by_outlet": _by_outlet(session, of_batch),
        "by_tender": _by_tender(session, of_batch),
        "by_gst_rate": _by_gst_rate(session, of_batch),
    }


def _by_outlet(session: Session, of_batch: ColumnElement[bool]) -> dict[str, Any]:
    return {
        code: {"sales": str(total), "tax": str(t), "count": n}
        for code, total, t, n in session.execute(
            select(Outlet.code, func.sum(Sale.total), func.sum(Sale.tax), func.count())
            .join(Outlet, Outlet.id == Sale.outlet_id)
            .where(of_batch)
            .group_by(Outlet.code)
            .order_by(Outlet.code)
        )
    }


def _by_tender(session: Session, of_batch: ColumnElement[bool]) -> dict[str, str]:
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
    cash = TenderMethod.CASH
    if change and cash in by_tender:
        by_tender[cash] = str(Decimal(by_tender[cash]) - change)  # cash kept, after change given
    return by_tender


def _by_gst_rate(session: Session, of_batch: ColumnElement[bool]) -> dict[str, Any]:
    return {
        str(rate): {"amount": str(amount), "tax": str(t)}
        for rate, amount, t in session.execute(
            select(SaleLine.gst_rate, func.sum(SaleLine.amount), func.sum(SaleLine.tax))
            .join(Sale, Sale.id == SaleLine.sale_id)
            .where(of_batch)
            .group_by(SaleLine.gst_rate)
            .order_by(SaleLine.gst_rate)
        )
    }


def _reconcile(session: Session, batch_id: int, posted: int) -> list[dict[str, Any]]:
    """The batch's sales, each checked against its own detail rows (domain/checks/sales.py)."""
    of_batch = Sale.batch_id == batch_id
    sales = sales_against_their_details(of_batch)
    counts = session.execute(
        select(
            func.count().label("sales"),
            func.count().filter(sales.c.lines_off).label("lines"),
            func.count().filter(sales.c.total_off).label("totals"),
            func.count().filter(sales.c.tenders_off).label("tenders"),
        ).select_from(sales)
    ).one()
    stock_off = session.scalar(movements_unlike_lines(of_batch))

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
    counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
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
        .outerjoin(Sale, (Sale.id == SaleRequestRow.sale_id) & (SaleRequestRow.outcome == Outcome.POSTED))
        .where(SaleRequestRow.batch_id == batch_id)
        .order_by(SaleRequestRow.id)
        .execution_options(yield_per=5000)
    )
    for row in rows:
        doc = dict(zip(REPORT_COLUMNS, row, strict=True))
        doc["total"] = None if doc["total"] is None else str(doc["total"])
        yield doc
