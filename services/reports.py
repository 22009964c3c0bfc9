"""Report use cases: X (read), Z (issued once: one transaction), GST F5 (read), cash counts (one
transaction). Arguments arrive as people typed them and are read strictly here (InvalidArgument
names the field), so the command line and the HTTP intake refuse the same things."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from domain.errors import NotFound
from domain.reports import gst, periods
from domain.reports.figures import cashier_id, day_figures, difference, report_outlet
from domain.reports.zreports import issue_z, issued_z, lock_for_issuing, record_count
from services.unit_of_work import Database


def x_report(
    db: Database, outlet: str, day: str, cashier: str | None = None, company: str | None = None
) -> dict[str, Any]:
    """The day's figures now; when a Z was issued for it, that Z's number and what changed since."""
    business_day = periods.business_day(day)

    def read(session: Session) -> dict[str, Any]:
        where = report_outlet(session, outlet, company)
        who = None if cashier is None else cashier_id(session, where, cashier)
        document = day_figures(session, where, business_day, who)
        if cashier is not None:
            document["cashier"] = cashier
        issued = issued_z(session, where.id, business_day)
        if issued is not None and cashier is None:
            document["z"] = {"number": issued["number"], "issued_at": issued["issued_at"]}
            document["since_z"] = difference(document, issued)
        return document

    return db.read(read, snapshot=True)


def z_report(db: Database, outlet: str, day: str, company: str | None = None) -> dict[str, Any]:
    """Issue the day's Z (or show the one issued): one transaction of one snapshot, taken after the
    Z issuers' lock (domain/reports/zreports.py)."""
    business_day = periods.business_day(day)

    def issue(session: Session) -> dict[str, Any]:
        lock_for_issuing(session)
        return issue_z(session, report_outlet(session, outlet, company), business_day)

    return db.transaction(issue, snapshot=True)


def issued_z_report(db: Database, outlet: str, day: str, company: str | None = None) -> dict[str, Any]:
    """The Z issued for the outlet's day, as issued (NotFound when none was): reads, never issues."""
    business_day = periods.business_day(day)

    def read(session: Session) -> dict[str, Any]:
        where = report_outlet(session, outlet, company)
        issued = issued_z(session, where.id, business_day)
        if issued is None:
            raise NotFound("Z report", f"{where.code} {business_day}")
        return issued

    return db.read(read)


def gst_return(db: Database, company: str, period: str | None, start: str | None, end: str | None) -> dict[str, Any]:
    chosen = periods.gst_period(period, start, end)
    return db.read(lambda session: gst.f5(session, company, chosen), snapshot=True)


def gst_detail(
    db: Database,
    company: str,
    period: str | None,
    start: str | None,
    end: str | None,
    each: Callable[[dict[str, Any]], object],
) -> None:
    """The sales behind each box, handed to `each` as they are read (streamed)."""
    chosen = periods.gst_period(period, start, end)

    def read(session: Session) -> None:
        for row in gst.f5_detail(session, company, chosen):
            each(row)

    db.read(read)


def cash_count(
    db: Database, outlet: str, day: str, amount: str, by: str | None = None, company: str | None = None
) -> dict[str, Any]:
    """Record a count of the outlet's drawer for the day (the history is kept)."""
    business_day, counted = periods.business_day(day), periods.cash_amount(amount)

    def record(session: Session) -> dict[str, Any]:
        where = report_outlet(session, outlet, company)
        if by is not None:
            cashier_id(session, where, by)  # a user of the outlet's company
        return record_count(session, where, business_day, counted, by)

    return db.transaction(record)
