"""Follow-ups of committed sales: reorder check, loyalty points, receipt (DOMAIN.md "Follow-ups").

Each works on a set of sales and is keyed by the sale: the `follow_ups` outbox row written in the
sale's own transaction. A run locks the open rows, marks them done and does the work in the
caller's transaction, so the mark and the work commit together; a sale whose row is already done
is skipped, and a redelivered message changes nothing. Only sales with an outbox row are processed
(posting always writes one per kind), and a row that failed for good (domain/followups/failures.py)
is left alone until it is retried. The caller owns the transaction: nothing here commits.

Lock order, always: follow_ups rows (by sale id, then kind) -> stock rows (by outlet id, then
product id, as everywhere; they also guard that pair's reorder suggestions) -> customers (by id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domain.followups.failures import hold_receipts_without_points
from domain.followups.loyalty import award_points
from domain.followups.receipts import store_receipts
from domain.followups.reorder import check_reorder
from domain.tables import FollowUp, Sale, among
from domain.vocabulary import FollowUpKind


def run_reorder(session: Session, sale_ids: list[int]) -> int:
    """Reorder check for the sales not yet checked; returns how many were checked now."""
    claimed = _claim(session, FollowUpKind.REORDER, sale_ids)
    if claimed:
        check_reorder(session, claimed)
    return len(claimed)


def run_loyalty(session: Session, sale_ids: list[int]) -> int:
    """Loyalty entries for the sales not yet counted; returns how many were counted now.

    A return's points come off what its sale earned, so a sale not yet counted is counted with its
    return (in sale id order, the sale first): a balance never dips below zero in between.
    """
    claimed = _claim(session, FollowUpKind.LOYALTY, with_originals(session, sale_ids))
    if claimed:
        award_points(session, claimed)
    return len(claimed)


def run_receipts(session: Session, sale_ids: list[int]) -> int:
    """Receipts for the sales that have none yet; returns how many were made now.

    A receipt shows the points a sale earned, so loyalty runs first for the same sales (a no-op
    where it already ran), and a sale whose loyalty failed for good gets no receipt: its receipt is
    failed too. Both kinds of outbox row are locked up front, keeping the lock order.
    """
    lock_follow_ups(session, with_originals(session, sale_ids), (FollowUpKind.LOYALTY, FollowUpKind.CUSTOMER_RECEIPT))
    run_loyalty(session, sale_ids)
    hold_receipts_without_points(session, sale_ids)
    claimed = _claim(session, FollowUpKind.CUSTOMER_RECEIPT, sale_ids)
    if claimed:
        store_receipts(session, claimed)
    return len(claimed)


def with_originals(session: Session, sale_ids: list[int]) -> list[int]:
    """These sales and the original sales of the returns among them."""
    originals = session.scalars(
        select(Sale.original_sale_id).where(among(Sale.id, sale_ids), Sale.original_sale_id.is_not(None))
    )
    return sorted({*sale_ids, *originals})


def open_follow_ups(session: Session, older_than: timedelta, limit: int) -> dict[str, list[int]]:
    """The sweeper's query: sale ids whose follow-up is still undone `older_than` after it was
    recorded, oldest first, at most `limit` rows, grouped by kind (only kinds with rows appear).
    A follow-up that failed for good is not undone work: it waits for `followups retry`, and so
    can never fill the window and hold back the rest."""
    rows = session.execute(
        select(FollowUp.kind, FollowUp.sale_id)
        .where(FollowUp.done_at.is_(None), FollowUp.failed_at.is_(None), FollowUp.created_at < func.now() - older_than)
        .order_by(FollowUp.created_at, FollowUp.sale_id, FollowUp.kind)
        .limit(limit)
    )
    grouped: dict[str, list[int]] = defaultdict(list)
    for kind, sale_id in rows:
        grouped[kind].append(sale_id)
    return dict(grouped)


def never_tried(session: Session, limit: int) -> list[int]:
    """Sale ids with open follow-ups none of which a run has failed yet (a sale with a counted
    failure is on that follow-up's backoff), oldest first, at most `limit`: what a drain runs as one
    set."""
    oldest = (
        select(FollowUp.sale_id, func.min(FollowUp.created_at).label("since"))
        .where(FollowUp.done_at.is_(None), FollowUp.failed_at.is_(None))
        .group_by(FollowUp.sale_id)
        .having(func.max(FollowUp.attempts) == 0)
        .subquery()
    )
    return list(session.scalars(select(oldest.c.sale_id).order_by(oldest.c.since, oldest.c.sale_id).limit(limit)))


def lock_follow_ups(session: Session, sale_ids: Iterable[int], kinds: Sequence[str]) -> list[int]:
    """THE first lock of every follow-up: the open outbox rows, in (sale id, kind) order.

    Returns the sale ids with an open row of these kinds (neither done nor failed for good). A row
    another worker finished while we waited for its lock is read again once it is released, and
    then no longer counts as open.
    """
    rows = session.scalars(
        select(FollowUp.sale_id)
        .where(
            among(FollowUp.sale_id, sorted(set(sale_ids))),
            FollowUp.kind.in_(kinds),
            FollowUp.done_at.is_(None),
            FollowUp.failed_at.is_(None),
        )
        .order_by(FollowUp.sale_id, FollowUp.kind)
        .with_for_update()
    )
    return sorted(set(rows))


def _claim(session: Session, kind: str, sale_ids: Iterable[int]) -> list[int]:
    """Lock this kind's open rows and mark them done; the mark commits with the caller's work."""
    claimed = lock_follow_ups(session, sale_ids, (kind,))
    if claimed:
        session.execute(
            update(FollowUp).where(among(FollowUp.sale_id, claimed), FollowUp.kind == kind).values(done_at=func.now())
        )
    return claimed
