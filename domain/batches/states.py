"""How a batch moves: RECEIVED (staged) -> POSTING (a worker started) -> POSTED (every request has an
outcome) -> DONE (and every follow-up of its sales has run), or ATTENTION (a follow-up failed for good;
DONE once `followups retry` ran it). Kept in PostgreSQL, not in Flower's memory. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from domain.batches.report import store_reconciliation
from domain.tables import Batch, FollowUp, Sale, SaleRequestRow, among
from domain.vocabulary import BatchState, Outcome


def start_posting(session: Session, batch_id: int) -> None:
    session.execute(
        update(Batch).where(Batch.id == batch_id, Batch.state == BatchState.RECEIVED).values(state=BatchState.POSTING)
    )


def advance(session: Session, batch_id: int) -> str:
    """Move the batch as far as its requests and follow-ups allow; returns the state.

    A batch that settles (DONE or ATTENTION) for the first time since it was staged or replayed has
    its reconciliation computed and stored here, once (domain/batches/report.py).

    Once every request has an outcome (POSTED) and no follow-up is still to run, the batch is DONE,
    or ATTENTION when a follow-up failed for good; after `followups retry` (back to POSTED) it is
    DONE once they have run.
    """
    state = session.scalar(select(Batch.state).where(Batch.id == batch_id).with_for_update(key_share=True))
    if state in (BatchState.RECEIVED, BatchState.POSTING):
        pending = session.scalar(
            select(exists().where(SaleRequestRow.batch_id == batch_id, SaleRequestRow.outcome == Outcome.PENDING))
        )
        if pending:
            return str(state)
        state = BatchState.POSTED
        session.execute(update(Batch).where(Batch.id == batch_id).values(state=state, posted_at=func.now()))
    if state in (BatchState.POSTED, BatchState.ATTENTION):
        if _has_follow_up(session, batch_id, FollowUp.done_at.is_(None), FollowUp.failed_at.is_(None)):
            return str(state)
        failed = _has_follow_up(session, batch_id, FollowUp.failed_at.is_not(None))
        settled = BatchState.ATTENTION if failed else BatchState.DONE
        if settled != state:
            done_at = func.now() if settled == BatchState.DONE else None
            session.execute(update(Batch).where(Batch.id == batch_id).values(state=settled, done_at=done_at))
            if session.scalar(select(Batch.reconciled_at).where(Batch.id == batch_id)) is None:
                store_reconciliation(session, batch_id)  # once: a settled batch's sales no longer change
        state = settled
    return str(state)


def _has_follow_up(session: Session, batch_id: int, *conditions: ColumnElement[bool]) -> bool:
    """Whether a sale of the batch has a follow-up meeting the conditions (each is a partial index)."""
    return bool(
        session.scalar(select(exists().where(FollowUp.sale_id == Sale.id, Sale.batch_id == batch_id, *conditions)))
    )


def advance_all(session: Session, batch_ids: Iterable[int]) -> None:
    """Advance each batch, in batch id order (the lock order of batch rows)."""
    for batch_id in sorted(set(batch_ids)):
        advance(session, batch_id)


def batches_of_sales(session: Session, sale_ids: list[int]) -> list[int]:
    query = select(Sale.batch_id).where(among(Sale.id, sale_ids), Sale.batch_id.is_not(None)).distinct()
    return sorted(b for b in session.scalars(query) if b is not None)


def unfinished(session: Session) -> list[int]:
    return list(session.scalars(select(Batch.id).where(Batch.state != BatchState.DONE).order_by(Batch.id)))
