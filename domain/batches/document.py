"""The batch document of `batch show` (../shared/CLI.md) and the list of `batch list`, read with
SQLAlchemy Core alone (domain/plain_tables.py): on a plain connection or a session alike.

`batch show` is what a person or a script polls while a batch posts, a new process each time, so
it imports neither the ORM nor the mapped tables. The reconciliation shown is the one stored when
the batch settled; reconciling now is domain/batches/report.py's (it reads every sale of the batch).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from domain import heartbeat
from domain.batches import tallies
from domain.errors import NotFound
from domain.plain_tables import batches, follow_ups, sales
from domain.vocabulary import DECIDED, Outcome

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

OUTCOMES = (*DECIDED, Outcome.PENDING)  # the order of `counts` in `batch show`
FAILED_LISTED = 100  # failed follow-ups listed by `batch show` (all are counted)


def batch_document(reader: Session | Connection, batch_id: int) -> dict[str, Any]:
    """The batch document of `batch show`: its row, its running tallies (a few rows whatever its
    size), its failed follow-ups and when the sweeper last ran."""
    batch = reader.execute(select(batches).where(batches.c.id == batch_id)).one_or_none()
    if batch is None:
        raise NotFound("batch", str(batch_id))
    tally = tallies.read(reader, batch_id)
    checks = batch.reconciliation
    failed_count, failed = failed_of_batch(reader, batch_id)
    return {
        "id": batch.id,
        "source": batch.source,
        "state": batch.state,
        "requests": batch.requests,
        "counts": {outcome: tally.n("outcome", outcome) for outcome in OUTCOMES},
        "reasons": dict(sorted((reason, n) for reason, (n, _, _) in tally.of("reason").items())),
        "totals": tallies.totals(reader, tally),
        "reconciled": None if checks is None else all(c["ok"] for c in checks),  # None: not yet computed
        "reconciliation": checks,
        "reconciled_at": _iso(batch.reconciled_at),
        "failed_follow_ups": failed,  # the first 100 (by sale): kind, sale, request_id, error, attempts
        "failed_follow_ups_total": failed_count,
        "created_at": batch.created_at.isoformat(),
        "posted_at": _iso(batch.posted_at),
        "done_at": _iso(batch.done_at),
        "sweeper": heartbeat.status(reader, "sweeper"),  # when undone work was last sent again
    }


def _iso(moment: Any) -> str | None:
    return None if moment is None else str(moment.isoformat())


def failed_of_batch(
    reader: Session | Connection, batch_id: int, limit: int = FAILED_LISTED
) -> tuple[int, list[dict[str, Any]]]:
    """How many follow-ups of the batch failed for good, and the first `limit` of them (by sale):
    kind, sale (transaction number), request_id, error, attempts, failed_at."""
    f, s = follow_ups.c, sales.c
    failed = (
        select(s.transaction_number.label("sale"), s.request_id, f.kind, f.error, f.attempts, f.failed_at)
        .select_from(follow_ups.join(sales, s.id == f.sale_id))
        .where(f.failed_at.is_not(None), s.batch_id == batch_id)
    )
    total = reader.scalar(select(func.count()).select_from(failed.subquery()))
    rows = reader.execute(failed.order_by(f.sale_id, f.kind).limit(limit)).mappings()
    return int(total or 0), [{**row, "failed_at": row["failed_at"].isoformat()} for row in rows]


def batch_list(reader: Session | Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The latest `limit` batches, newest first: id, source, state, requests, created_at."""
    b = batches.c
    rows = reader.execute(select(b.id, b.source, b.state, b.requests, b.created_at).order_by(b.id.desc()).limit(limit))
    return [
        {"id": i, "source": src, "state": st, "requests": n, "created_at": at.isoformat()} for i, src, st, n, at in rows
    ]
