"""Loyalty points: one ledger entry per sale with a customer, and a balance that always equals the
sum of the customer's ledger (DOMAIN.md "Follow-ups").

A sale earns floor(total / dollars_per_point). A return of a known sale takes back from that sale's
member what the sale's remainder stops earning: floor(remainder before it / rate) - floor(remainder
after it / rate), the remainder being the sale's total less the refunds of its returns up to and
including this one (in the order they were posted). Those figures are stored with the sales, so the
outcome never depends on the order the follow-ups run in, and a sale returned in parts ends exactly
where one whole return would: the sale earned - what its remainder earns. It never takes back more
than the sale earned less what its earlier returns took. A return without its sale takes back
floor(refund / rate), but never more than the customer holds: its balance never goes below zero.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import case, exists, func, select, text, update
from sqlalchemy.orm import Session, aliased

from domain.db import dumps
from domain.posting.money import loyalty_points
from domain.posting.request import Kind
from domain.tables import Company, Customer, LoyaltyEntry, Sale, among

_Original = aliased(Sale)


def award_points(session: Session, sale_ids: list[int]) -> None:
    """Write each sale's entry (zero points too, so the ledger shows the sale; nothing for a walk-in),
    then set each touched customer's balance to the sum of its ledger.

    Customers are locked (by id) before anything is read, so two returns of one sale take turns.
    """
    sales = _to_count(session, sale_ids)
    if not sales:
        return
    customer_ids = sorted({s.customer_id for s in sales})
    session.execute(
        select(Customer.id)
        .where(among(Customer.id, customer_ids))
        .order_by(Customer.id)
        .with_for_update(key_share=True)
    )
    originals = {s.original_sale_id for s in sales if s.original_sale_id is not None}
    left = _left_to_take_back(session, originals)
    remainders = _Remainders(session, originals)
    balance = _balances(session, customer_ids)
    entries = []
    for s in sales:  # in sale id order: a sale before its returns, earlier returns first
        if s.kind == Kind.SALE:
            points = loyalty_points(s.total, s.dollars_per_point)
        elif s.original_sale_id is not None:
            stops = remainders.stops_earning(s.original_sale_id, s.id, s.dollars_per_point)
            back = min(stops, left[s.original_sale_id], max(balance[s.customer_id], 0))
            left[s.original_sale_id] -= back
            points = -back
        else:
            points = -min(loyalty_points(-s.total, s.dollars_per_point), max(balance[s.customer_id], 0))
        balance[s.customer_id] += points
        entries.append({"customer_id": s.customer_id, "sale_id": s.id, "points": points})
    session.execute(_ENTRIES, {"entries": dumps(entries)})
    ledger = (
        select(func.coalesce(func.sum(LoyaltyEntry.points), 0))
        .where(LoyaltyEntry.customer_id == Customer.id)
        .scalar_subquery()
    )
    session.execute(update(Customer).where(among(Customer.id, customer_ids)).values(points=ledger))


# One statement whatever the number of entries (the rows as one JSON parameter), so it is compiled,
# parsed and prepared once, not once per set size; an entry already written is kept.
_ENTRIES = text("""
    INSERT INTO loyalty_entries (customer_id, sale_id, points)
    SELECT customer_id, sale_id, points FROM json_to_recordset(CAST(:entries AS json))
        AS e(customer_id integer, sale_id bigint, points bigint)
    ON CONFLICT (sale_id) DO NOTHING
""")


def _to_count(session: Session, sale_ids: list[int]) -> list[Any]:
    """The sales among these with a member and no entry yet. A return of a known sale counts for its
    sale's member (posting rejects a return naming anyone else)."""
    member = case((Sale.original_sale_id.is_not(None), _Original.customer_id), else_=Sale.customer_id)
    counted = exists().where(LoyaltyEntry.sale_id == Sale.id)
    return list(
        session.execute(
            select(
                Sale.id,
                Sale.kind,
                member.label("customer_id"),
                Sale.total,
                Sale.original_sale_id,
                Company.dollars_per_point,
            )
            .join(Company, Company.id == Sale.company_id)
            .outerjoin(_Original, _Original.id == Sale.original_sale_id)
            .where(among(Sale.id, sale_ids), member.is_not(None), ~counted)
            .order_by(Sale.id)
        )
    )


class _Remainders:
    """What is left of each original sale's total before and after each of its returns."""

    def __init__(self, session: Session, original_ids: set[int]) -> None:
        self._totals: dict[int, Decimal] = {}
        self._returns: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
        if not original_ids:
            return
        for sale_id, total in session.execute(select(Sale.id, Sale.total).where(among(Sale.id, original_ids))):
            self._totals[sale_id] = total
        returns = session.execute(
            select(Sale.original_sale_id, Sale.id, Sale.total)
            .where(among(Sale.original_sale_id, original_ids))
            .order_by(Sale.id)
        )
        for original_id, return_id, total in returns:
            if original_id is not None:  # always: only returns of these sales are read
                self._returns[original_id].append((return_id, total))

    def stops_earning(self, original_id: int, return_id: int, dollars_per_point: Decimal) -> int:
        """Points the sale's remainder earns before this return less what it earns after it."""
        before = self._totals[original_id] + sum(t for r, t in self._returns[original_id] if r < return_id)
        after = before + sum(t for r, t in self._returns[original_id] if r == return_id)
        return loyalty_points(before, dollars_per_point) - loyalty_points(after, dollars_per_point)


def _balances(session: Session, customer_ids: list[int]) -> dict[int, int]:
    """Each customer's balance as its ledger holds it now."""
    rows = session.execute(
        select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points))
        .where(among(LoyaltyEntry.customer_id, customer_ids))
        .group_by(LoyaltyEntry.customer_id)
    )
    balance: dict[int, int] = defaultdict(int)
    for customer_id, points in rows:
        balance[customer_id] = int(points)
    return balance


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
        .where(among(_Original.id, original_ids))
    )
    left: dict[int, int] = {}
    for sale_id, total, customer_id, rate, earned, taken_back in rows:
        if earned is None:
            earned = loyalty_points(total, rate) if customer_id is not None else 0
        left[sale_id] = max(0, earned + taken_back)
    return left
