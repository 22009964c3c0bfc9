"""Intake invariants: POSTED and DUPLICATE requests point at their sale, and every sale was POSTED by
exactly one request."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.tables import Sale, SaleRequestRow
from domain.vocabulary import Outcome


def every_sale_posted_by_one_request(session: Session) -> list[Violation]:
    return [*_requests_without_their_sale(session), *_sales_not_posted_once(session)]


def _requests_without_their_sale(session: Session) -> list[Violation]:
    dangling = session.execute(
        select(
            SaleRequestRow.id,
            SaleRequestRow.request_id,
            SaleRequestRow.outcome,
            Sale.transaction_number,
            Sale.request_id,
        )
        .outerjoin(Sale, Sale.id == SaleRequestRow.sale_id)
        .where(SaleRequestRow.outcome.in_((Outcome.POSTED, Outcome.DUPLICATE)))
        .where(or_(Sale.id.is_(None), Sale.request_id != SaleRequestRow.request_id))
        .order_by(SaleRequestRow.id)
    )
    return [
        Violation(
            "intake",
            f"request {request_id} (intake #{intake_id}) is {outcome} but "
            + ("points at no sale" if number is None else f"points at sale {number} of request {sale_request}"),
        )
        for intake_id, request_id, outcome, number, sale_request in dangling
    ]


def _sales_not_posted_once(session: Session) -> list[Violation]:
    """Sales POSTED by no request or by several: the POSTED requests counted per sale in one pass
    (GROUP BY), joined to every sale (a count per sale looked up one sale at a time grew with the
    ledger one index probe a sale)."""
    posted = (
        select(SaleRequestRow.sale_id, func.count().label("requests"))
        .where(SaleRequestRow.outcome == Outcome.POSTED, SaleRequestRow.sale_id.is_not(None))
        .group_by(SaleRequestRow.sale_id)
        .subquery()
    )
    count = func.coalesce(posted.c.requests, 0)
    unposted = session.execute(
        select(Sale.transaction_number, Sale.request_id, count)
        .outerjoin(posted, posted.c.sale_id == Sale.id)
        .where(count != 1)
        .order_by(Sale.transaction_number)
    )
    violations = []
    for number, request_id, requests in unposted:
        what = "has no POSTED request" if requests == 0 else f"was POSTED by {requests} requests"
        violations.append(Violation("intake", f"sale {number} (request {request_id}) {what} in the intake ledger"))
    return violations
