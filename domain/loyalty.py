"""Loyalty points: one ledger entry per sale with a customer, and a balance that always equals the
sum of the customer's ledger (DOMAIN.md "Follow-ups")."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, aliased

from domain.money import loyalty_points
from domain.tables import Company, Customer, LoyaltyEntry, Sale

_Original = aliased(Sale)


def award_points(session: Session, sale_ids: list[int]) -> None:
    """Write each sale's entry (zero points too, so the ledger shows the sale; nothing for a walk-in),
    then set each touched customer's balance to the sum of its ledger.

    A sale earns floor(total / dollars_per_point). A return takes back floor(|total| / rate), but
    never more than its original sale earned less what earlier returns of it already took back.
    Customers are locked (by id) before anything is read, so two returns of one sale take turns.
    """
    sales = session.execute(
        select(Sale.id, Sale.kind, Sale.customer_id, Sale.total, Sale.original_sale_id, Company.dollars_per_point)
        .join(Company, Company.id == Sale.company_id)
        .where(Sale.id.in_(sale_ids), Sale.customer_id.is_not(None))
        .order_by(Sale.id)
    ).all()
    if not sales:
        return
    customer_ids = sorted({s.customer_id for s in sales})
    session.execute(
        select(Customer.id).where(Customer.id.in_(customer_ids)).order_by(Customer.id).with_for_update(key_share=True)
    )
    left = _left_to_take_back(session, {s.original_sale_id for s in sales if s.original_sale_id is not None})
    entries = []
    for s in sales:  # in sale id order: a sale before its returns, earlier returns first
        if s.kind == "sale":
            points = loyalty_points(s.total, s.dollars_per_point)
        else:
            back = loyalty_points(-s.total, s.dollars_per_point)
            if s.original_sale_id is not None:
                back = min(back, left[s.original_sale_id])
                left[s.original_sale_id] -= back
            points = -back
        entries.append({"customer_id": s.customer_id, "sale_id": s.id, "points": points})
    session.execute(pg_insert(LoyaltyEntry).values(entries).on_conflict_do_nothing(index_elements=["sale_id"]))
    ledger = (
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
        .where(LoyaltyEntry.customer_id == Customer.id)
        .scalar_subquery()
    )
    session.execute(update(Customer).where(Customer.id.in_(customer_ids)).values(points=ledger))


def _left_to_take_back(session: Session, original_ids: set[int]) -> dict[int, int]:
    """What each original sale earned less what its returns already took back (their entries are
    negative). An original whose own loyalty has not run yet (it may be in this very set) counts
    what it will earn by the same rule, so the total taken back never depends on task order."""
    if not original_ids:
        return {}
    back, returned = aliased(LoyaltyEntry), aliased(Sale)
    taken = (
        select(func.coalesce(func.sum(back.points), 0))
        .join(returned, returned.id == back.sale_id)
        .where(returned.original_sale_id == _Original.id)
        .correlate(_Original)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            _Original.id,
            _Original.total,
            _Original.customer_id,
            Company.dollars_per_point,
            LoyaltyEntry.points,
            taken.label("taken"),
        )
        .join(Company, Company.id == _Original.company_id)
        .outerjoin(LoyaltyEntry, LoyaltyEntry.sale_id == _Original.id)
        .where(_Original.id.in_(original_ids))
    )
    left: dict[int, int] = {}
    for sale_id, total, customer_id, rate, earned, taken_back in rows:
        if earned is None:
            earned = loyalty_points(total, rate) if customer_id is not None else 0
        left[sale_id] = max(0, earned + taken_back)
    return left
