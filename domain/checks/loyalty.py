"""Loyalty invariants: a balance is the sum of its ledger, and never below zero."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.checks.violation import Violation
from domain.tables import Company, Customer, LoyaltyEntry


def balance_is_sum_of_entries(session: Session) -> list[Violation]:
    """Every customer's balance equals the sum of its loyalty ledger."""
    ledger = (
        select(LoyaltyEntry.customer_id, func.sum(LoyaltyEntry.points).label("points"))
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    summed = func.coalesce(ledger.c.points, 0)
    rows = session.execute(
        select(Company.code, Customer.code, Customer.points, summed)
        .join(Company, Company.id == Customer.company_id)
        .outerjoin(ledger, ledger.c.customer_id == Customer.id)
        .where(Customer.points != summed)
        .order_by(Company.code, Customer.code)
    )
    return [
        Violation(
            "loyalty", f"company {company} customer {code}: balance {points} points but its ledger sums to {total}"
        )
        for company, code, points, total in rows
    ]


def no_negative_balance(session: Session) -> list[Violation]:
    """No balance is below zero: a return never takes back more than its sale earned, and one
    without its sale never more than the customer holds."""
    rows = session.execute(
        select(Company.code, Customer.code, Customer.points)
        .join(Company, Company.id == Customer.company_id)
        .where(Customer.points < 0)
        .order_by(Company.code, Customer.code)
    )
    return [
        Violation("loyalty", f"company {company} customer {code}: a balance of {points} points, below zero")
        for company, code, points in rows
    ]
