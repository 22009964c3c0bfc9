"""Receiving requests: durable in PostgreSQL before anything is sent (the claim check), and reading
their outcomes back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from domain import queries
from domain.posting import intake
from domain.tables import Company, Customer, Outlet, WebDelivery
from services.unit_of_work import Database


def receive(db: Database, payloads: Iterable[Any], batch_id: int | None = None) -> list[int]:
    """Record each payload as a PENDING request (committed); their intake ids, in order."""
    return db.transaction(partial(intake.receive, payloads=list(payloads), batch_id=batch_id))


def outcomes(db: Database, intake_ids: list[int]) -> list[dict[str, Any]]:
    """`sale show --json` documents of these requests, in order."""
    return db.read(partial(queries.outcomes, intake_ids=intake_ids))


def count_pending(db: Database, intake_ids: list[int]) -> int:
    return db.read(partial(queries.count_pending, intake_ids=intake_ids))


def company_of_outlet(db: Database, outlet: str) -> str | None:
    """The code of the company that owns this outlet, or None when no such outlet exists."""
    return db.read(
        lambda session: session.scalar(
            select(Company.code).join(Outlet, Outlet.company_id == Company.id).where(Outlet.code == outlet)
        )
    )


def customer_by_email(db: Database, outlet: str, email: str) -> str | None:
    """The code of the one customer of the outlet's company whose e-mail is `email` (trimmed, any
    case); None when no customer has it, or several do (a web order is then a walk-in, never a guess)."""
    wanted = email.strip().lower()
    if not wanted:
        return None

    def find(session: Session) -> str | None:
        codes = session.scalars(
            select(Customer.code)
            .join(Outlet, Outlet.company_id == Customer.company_id)
            .where(Outlet.code == outlet, func.lower(func.trim(Customer.email)) == wanted)
            .limit(2)
        ).all()
        return codes[0] if len(codes) == 1 else None

    return db.read(find)


@dataclass(frozen=True)
class WebDeliveryIn:
    """One signed webhook delivery, as the HTTP intake received it (its headers kept for audit)."""

    platform: str
    delivery_id: str | None
    topic: str
    order_id: str | None
    headers: dict[str, str]
    requests: list[dict[str, Any]] = field(default_factory=list)  # what the adapter made of it
    note: str = ""


def receive_delivery(db: Database, delivery: WebDeliveryIn) -> list[int]:
    """Record the delivery and the sale requests it became, PENDING, in one transaction (committed);
    their intake ids, in order. Nothing is decided here: a worker posts each request."""

    def record(session: Session) -> list[int]:
        intake_ids = intake.receive(session, delivery.requests)
        session.execute(
            insert(WebDelivery).values(
                platform=delivery.platform,
                delivery_id=delivery.delivery_id,
                topic=delivery.topic,
                order_id=delivery.order_id,
                headers=delivery.headers,
                request_ids=[intake.request_id_of(r) for r in delivery.requests],
                intake_ids=intake_ids,
                note=delivery.note or None,
            )
        )
        return intake_ids

    return db.transaction(record)
