"""Receiving requests: durable in PostgreSQL before anything is enqueued (the claim check)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from domain.requests import fingerprint_of
from domain.tables import SaleRequestRow


def request_id_of(payload: Any) -> str:
    """The request_id a payload claims, or "" when it has none worth the name (it will be INVALID)."""
    if isinstance(payload, dict):
        rid = payload.get("request_id")
        if isinstance(rid, str) and 0 < len(rid) <= 100:
            return rid
    return ""


def receive(session: Session, payloads: Iterable[Any], batch_id: int | None = None) -> list[int]:
    """Record each decoded payload as a PENDING request and return their intake ids, in order.

    Nothing is validated here: an invalid payload is stored as received, and the worker records
    it as REJECTED/INVALID with the field errors, so it still ends in exactly one outcome.
    """
    rows = [
        {"request_id": request_id_of(p), "payload": p, "fingerprint": fingerprint_of(p), "batch_id": batch_id}
        for p in payloads
    ]
    if not rows:
        return []
    ids = session.scalars(insert(SaleRequestRow).returning(SaleRequestRow.id, sort_by_parameter_order=True), rows)
    return list(ids)
