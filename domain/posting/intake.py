"""Receiving requests: durable in PostgreSQL before anything is enqueued (the claim check)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from domain.batches.entries import printable, storable
from domain.posting.request import fingerprint_of
from domain.tables import Batch, SaleRequestRow
from domain.vocabulary import Outcome, Reason


def request_id_of(payload: Any) -> str:
    """The request_id a payload claims, or "" when it has none worth the name (it will be INVALID).
    Made printable: a web delivery lists the request_ids of requests that could not be stored as
    they came (a NUL, a lone surrogate), and says them in its reply."""
    if isinstance(payload, dict):
        rid = payload.get("request_id")
        if isinstance(rid, str):
            shown = printable(rid)
            if 0 < len(shown) <= 100:
                return shown
    return ""


def receive(session: Session, payloads: Iterable[Any], batch_id: int | None = None) -> list[int]:
    """Record each decoded payload as a PENDING request and return their intake ids, in order.

    Nothing is validated here: an invalid payload is stored as received, and the worker records
    it as REJECTED/INVALID with the field errors, so it still ends in exactly one outcome. Only a
    payload PostgreSQL cannot store (a NUL character, NaN) is decided at once: REJECTED/INVALID.
    """
    rows = [_row(p, batch_id) for p in payloads]
    if not rows:
        return []
    ids = session.scalars(insert(SaleRequestRow).returning(SaleRequestRow.id, sort_by_parameter_order=True), rows)
    return list(ids)


def _row(payload: Any, batch_id: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {"batch_id": batch_id, "outcome": Outcome.PENDING, "reason": None, "message": None}
    try:
        payload = storable(_floats_as_decimals(payload))
    except (ValueError, RecursionError) as exc:
        payload = {"unstorable": printable(repr(payload)[:2000])}
        row.update(outcome=Outcome.REJECTED, reason=Reason.INVALID, message=f"cannot be stored: {exc}")
    # Its request_id from what is stored: one holding a NUL character is not stored as it came
    return {**row, "request_id": request_id_of(payload), "payload": payload, "fingerprint": fingerprint_of(payload)}


def _floats_as_decimals(value: Any) -> Any:
    """A Python caller's float becomes the Decimal it was written as (12.5, never 12.4999...)."""
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _floats_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_as_decimals(v) for v in value]
    return value


def mark_requests_sent(session: Session, intake_ids: list[int]) -> None:
    """Remember when each request was last handed to the queue (the sweeper's clock). Its batch's
    clock is domain.batches.staging.mark_batch_sent."""
    session.execute(update(SaleRequestRow).where(SaleRequestRow.id.in_(intake_ids)).values(enqueued_at=func.now()))


def stale_pending(session: Session, older_than: timedelta, limit: int) -> list[int]:
    """Requests still PENDING although they were last enqueued `older_than` ago (or never):
    their message was lost (Redis flushed, worker killed before redelivery). Marked enqueued again.
    A request counts as enqueued from the moment it is received (`enqueued_at` defaults to now()),
    or from when its batch was last sent, whichever is later."""
    cutoff = func.now() - older_than
    batch_sent = select(Batch.enqueued_at).where(Batch.id == SaleRequestRow.batch_id).scalar_subquery()
    ids = list(
        session.scalars(
            select(SaleRequestRow.id)
            .where(SaleRequestRow.outcome == Outcome.PENDING)
            .where(SaleRequestRow.enqueued_at < cutoff)
            .where(func.coalesce(batch_sent, SaleRequestRow.enqueued_at) < cutoff)
            .order_by(SaleRequestRow.id)
            .limit(limit)
            .with_for_update(of=SaleRequestRow, skip_locked=True)
        )
    )
    if ids:
        mark_requests_sent(session, ids)
    return ids
