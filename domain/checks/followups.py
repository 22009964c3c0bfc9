"""Follow-up invariant: none failed for good. A failed one is work the ledger still owes (a
reorder check, points, a receipt); it is listed until `tillpost followups retry` runs it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.tables import FollowUp, Sale

SHOWN = 100


def none_failed(session: Session) -> list[Violation]:
    """Every follow-up that failed for good (the first SHOWN by sale, then how many more)."""
    rows = session.execute(
        select(FollowUp.kind, Sale.transaction_number, Sale.request_id, FollowUp.attempts, FollowUp.error)
        .join(Sale, Sale.id == FollowUp.sale_id)
        .where(FollowUp.failed_at.is_not(None))
        .order_by(FollowUp.sale_id, FollowUp.kind)
        .limit(SHOWN + 1)
    ).all()
    found = [
        Violation(
            "follow-ups",
            f"sale {number} (request {request_id}): {kind} failed after {attempts} attempt(s): {error}; "
            "fix the cause, then run `tillpost followups retry`",
        )
        for kind, number, request_id, attempts, error in rows[:SHOWN]
    ]
    if len(rows) > SHOWN:
        found.append(Violation("follow-ups", f"and more failed follow-ups beyond the first {SHOWN}"))
    return found
