"""Issuing a Z report, and recording a cash count.

A Z is issued once per outlet and business day, numbered 1, 2, 3, ... per outlet with no gap, and
never rewritten. Its transaction is REPEATABLE READ, so its figures (several statements: sales,
lines, tenders, the count) are the ledger of one moment, even while late sales for the day post.

Lock order: `lock_for_issuing` first, before anything is read: the z_reports table in SHARE ROW
EXCLUSIVE mode, which only Z issuers take (it conflicts with itself and with writes to z_reports,
never with reads of it or with posting). A LOCK TABLE takes no snapshot, so the snapshot is frozen
after the lock is granted and sees every Z issued before: two issuers never draw the same number
or issue one day twice, whichever outlets and days they ask for. (A row lock would not do: the
SELECT taking it freezes the snapshot before it waits.) Nothing else is locked. The number is the
outlet's highest plus one; a rolled-back issue leaves no gap.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from domain.errors import ZReportRefused
from domain.reports.figures import ReportOutlet, day_figures, latest_count
from domain.reports.periods import day_of
from domain.tables import CashCount, SaleRequestRow, ZReport, core_table
from domain.vocabulary import Outcome


def issued_z(session: Session, outlet_id: int, day: date) -> dict[str, Any] | None:
    """The Z issued for the outlet's day, as issued (None when none was)."""
    figures: dict[str, Any] | None = session.scalar(
        select(ZReport.figures).where(ZReport.outlet_id == outlet_id, ZReport.business_date == day)
    )
    return figures


def lock_for_issuing(session: Session) -> None:
    """The one lock a Z issuer takes, as the first statement of its REPEATABLE READ transaction."""
    session.execute(text("LOCK TABLE z_reports IN SHARE ROW EXCLUSIVE MODE"))


def issue_z(session: Session, outlet: ReportOutlet, day: date) -> dict[str, Any]:
    """The day's Z: issued now unless it already was (then the issued one, unchanged). Refused
    (ZReportRefused, with the count) while requests of the outlet and day are still PENDING.
    Call it after `lock_for_issuing`, in a REPEATABLE READ transaction."""
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
