"""Follow-ups that fail for good (DOMAIN.md "Batch posting"; the `follow_ups` columns attempts,
failed_at, error).

A follow-up whose work raises an error that is not a passing fault counts one attempt, committed on
its own (the work's transaction rolled back). At the limit it is marked failed with its error: no
run claims it again (outbox.lock_follow_ups), the sweeper never sends it, and its batch ends in
ATTENTION, until `retry_failed` clears the mark once the cause is fixed. The caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, exists, func, select, update
from sqlalchemy.orm import Session

from domain.errors import ERROR_CHARS, NotFound
from domain.tables import Batch, FollowUp, Sale, among
from domain.vocabulary import BatchState, FollowUpKind

LOYALTY_FAILED = "LoyaltyFailed: the receipt shows the points its sale earned, and that sale's LOYALTY follow-up failed"


@dataclass(frozen=True)
class Attempt:
    """One failed run of a follow-up: how many so far, and whether that was the last allowed."""

    attempts: int
    failed: bool


def record_failure(session: Session, kind: str, sale_id: int, error: str, limit: int) -> Attempt | None:
    """Count a failed run of this sale's open follow-up, keeping its last error; the `limit`-th
    marks it failed. None when it is no longer open (another run finished it meanwhile)."""
    counted = FollowUp.attempts + 1
    row = session.execute(
        update(FollowUp)
        .where(FollowUp.sale_id == sale_id, _open(kind))
        .values(attempts=counted, error=error[:ERROR_CHARS], failed_at=case((counted >= limit, func.now())))
        .returning(FollowUp.attempts, FollowUp.failed_at)
    ).one_or_none()
    return None if row is None else Attempt(row.attempts, row.failed_at is not None)


def hold_receipts_without_points(session: Session, sale_ids: Iterable[int]) -> list[int]:
    """A receipt is never issued without the points its sale earned: where the sale's loyalty
    failed for good, its open receipt is failed with it (retried together). Returns those sales."""
    loyalty_failed = session.scalars(  # nearly always none: read first, on the small index of failures
        select(FollowUp.sale_id).where(
            among(FollowUp.sale_id, sorted(set(sale_ids))),
            FollowUp.kind == FollowUpKind.LOYALTY,
            FollowUp.failed_at.is_not(None),
        )
    ).all()
    if not loyalty_failed:
        return []
    held = session.scalars(
        update(FollowUp)
        .where(among(FollowUp.sale_id, loyalty_failed), _open(FollowUpKind.CUSTOMER_RECEIPT))
        .values(failed_at=func.now(), error=LOYALTY_FAILED)
        .returning(FollowUp.sale_id)
    )
    return sorted(held)


def retry_failed(session: Session, batch_id: int | None = None) -> dict[str, list[int]]:
    """Make the failed follow-ups (of one batch, or all) open again with no attempts counted, and
    move their batches from ATTENTION back to POSTED. Returns the sale ids by kind, for the caller
    to send once this commits."""
    query = update(FollowUp).where(FollowUp.failed_at.is_not(None))
    if batch_id is not None:
        if session.get(Batch, batch_id) is None:
            raise NotFound("batch", str(batch_id))
        query = query.where(FollowUp.sale_id.in_(select(Sale.id).where(Sale.batch_id == batch_id)))
    reopened: dict[str, list[int]] = defaultdict(list)
    for kind, sale_id in session.execute(
        query.values(failed_at=None, error=None, attempts=0).returning(FollowUp.kind, FollowUp.sale_id)
    ):
        reopened[kind].append(sale_id)
    of_the_batch = (FollowUp.sale_id == Sale.id, Sale.batch_id == Batch.id)
    still_failed = exists().where(FollowUp.failed_at.is_not(None), *of_the_batch)
    batches = update(Batch).where(Batch.state == BatchState.ATTENTION, ~still_failed)
    if batch_id is not None:
        batches = batches.where(Batch.id == batch_id)
    session.execute(batches.values(state=BatchState.POSTED))
    return {kind: sorted(ids) for kind, ids in sorted(reopened.items())}


def _open(kind: str) -> ColumnElement[bool]:
    return (FollowUp.kind == kind) & FollowUp.done_at.is_(None) & FollowUp.failed_at.is_(None)
