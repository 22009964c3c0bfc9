"""Receiving requests: durable in PostgreSQL before anything is sent (the claim check), and reading
their outcomes back."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from domain import queries
from domain.posting import intake
from services.unit_of_work import Database


def receive(db: Database, payloads: Iterable[Any], batch_id: int | None = None) -> list[int]:
    """Record each payload as a PENDING request (committed); their intake ids, in order."""
    return db.transaction(partial(intake.receive, payloads=list(payloads), batch_id=batch_id))


def outcomes(db: Database, intake_ids: list[int]) -> list[dict[str, Any]]:
    """`sale show --json` documents of these requests, in order."""
    return db.read(partial(queries.outcomes, intake_ids=intake_ids))


def count_pending(db: Database, intake_ids: list[int]) -> int:
    return db.read(partial(queries.count_pending, intake_ids=intake_ids))
