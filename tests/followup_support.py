"""Test helpers for follow-ups and ledger checks: post a sale that must post, run a follow-up as its
task would, and snapshot every table to prove a second run changed nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from domain.tables import Base, Sale
from tests.shop import submit_and_post


def post(sessions: sessionmaker[Session], payload: dict[str, Any]) -> int:
    """Submit and post one request that must be POSTED; the new sale's id."""
    posted = submit_and_post(sessions, payload)
    assert posted.outcome == "POSTED", posted
    assert posted.sale_id is not None
    return posted.sale_id


def follow_up(sessions: sessionmaker[Session], run: Callable[[Session, list[int]], int], sale_ids: list[int]) -> int:
    """Run one follow-up over these sales in its own transaction, as its task does."""
    with sessions.begin() as session:
        return run(session, sale_ids)


def transaction_number(sessions: sessionmaker[Session], sale_id: int) -> str:
    with sessions() as session:
        return session.execute(select(Sale.transaction_number).where(Sale.id == sale_id)).scalar_one()


def table_contents(session: Session) -> dict[str, list[Any]]:
    """Every row of every table, in key order: compare two of these to prove nothing changed."""
    return {
        table.name: [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]
        for table in Base.metadata.sorted_tables
    }
