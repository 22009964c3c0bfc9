"""Issuing a Z report, and recording a cash count.

A Z is issued once per outlet and business day, numbered 1, 2, 3, ... per outlet with no gap, and
never rewritten. Lock order: the outlet's row first, FOR NO KEY UPDATE (it serialises the Z issuers
of one outlet, so two never draw the same number, while the foreign-key checks of sales being posted
at that outlet, which take FOR KEY SHARE, go on unblocked); nothing else is locked. The number is
the outlet's highest plus one, read under that lock; a rolled-back issue leaves no gap.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from domain.errors import ZReportRefused
from domain.reports.figures import ReportOutlet, day_figures, latest_count
from domain.reports.periods import day_of
from domain.tables import CashCount, Outlet, SaleRequestRow, ZReport, core_table
from domain.vocabulary import Outcome


def issued_z(session: Session, outlet_id: int, day: date) -> dict[str, Any] | None:
    """The Z issued for the outlet's day, as issued (None when none was)."""
    figures: dict[str, Any] | None = session.scalar(
        select(ZReport.figures).where(ZReport.outlet_id == outlet_id, ZReport.business_date == day)
    )
    return figures


def issue_z(session: Session, outlet: ReportOutlet, day: date) -> dict[str, Any]:
    """The day's Z: issued now unless it already was (then the issued one, unchanged). Refused
    (ZReportRefused, with the count) while requests of the outlet and day are still PENDING."""
    session.execute(select(Outlet.id).where(Outlet.id == outlet.id).with_for_update(key_share=True))
    issued = issued_z(session, outlet.id, day)
    if issued is not None:
        return issued
    pending = pending_requests(session, outlet.code, day)
    if pending:
        raise ZReportRefused(outlet.code, day.isoformat(), pending)
    figures = day_figures(session, outlet, day)
    count = latest_count(session, outlet.id, day)
    number = (session.scalar(select(func.max(ZReport.number)).where(ZReport.outlet_id == outlet.id)) or 0) + 1
    issued_at = session.scalar(select(func.now()))
    assert isinstance(issued_at, datetime)
    document = {**figures, "number": number, "issued_at": issued_at.isoformat()}
    session.execute(
        insert(core_table(ZReport)).values(
            company_id=outlet.company_id,
            outlet_id=outlet.id,
            business_date=day,
            number=number,
            figures=document,
            cash_count_id=None if count is None else count[0],
            issued_at=issued_at,
        )
    )
    return document


def pending_requests(session: Session, outlet_code: str, day: date) -> int:
    """Requests naming the outlet, still PENDING, whose occurred_at falls on the business day. Only the
    PENDING rows of the outlet within a day of it are read (the index of PENDING rows), then their
    times parsed here: a request not yet validated may hold a time that PostgreSQL cannot cast."""
    near = [(day + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    stamps = session.scalars(
        select(SaleRequestRow.payload["occurred_at"].astext).where(
            SaleRequestRow.outcome == Outcome.PENDING,
            SaleRequestRow.payload["outlet"].astext == outlet_code,
            func.left(SaleRequestRow.payload["occurred_at"].astext, 10).in_(near),
        )
    )
    return sum(1 for stamp in stamps if _falls_on(stamp, day))


def _falls_on(stamp: str, day: date) -> bool:
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return False  # it will be REJECTED INVALID: it belongs to no day
    return moment.tzinfo is not None and day_of(moment) == day


def record_count(session: Session, outlet: ReportOutlet, day: date, amount: Decimal, by: str | None) -> dict[str, Any]:
    """Add a count of the drawer (earlier counts are kept; reports show the latest)."""
    row = session.execute(
        insert(core_table(CashCount))
        .values(outlet_id=outlet.id, business_date=day, amount=amount, counted_by=by)
        .returning(core_table(CashCount).c.id, core_table(CashCount).c.recorded_at)
    ).one()
    counts = session.scalar(
        select(func.count()).where(CashCount.outlet_id == outlet.id, CashCount.business_date == day)
    )
    return {
        "outlet": outlet.code,
        "date": day.isoformat(),
        "amount": str(amount.quantize(Decimal("0.01"))),
        "by": by,
        "recorded_at": row.recorded_at.isoformat(),
        "counts_that_day": counts,
    }
