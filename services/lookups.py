"""Read-only use cases: what the command line (and the HTTP intake) shows. Each reads through
`db.read` (one session, nothing written) and returns plain data: the documents of ../shared/CLI.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy.orm import Session

from domain import heartbeat, queries
from domain.batches import report
from domain.checks import check_ledger
from domain.errors import NotFound
from domain.followups.receipts import stored_receipt
from domain.masterdata.importing import export_csv
from domain.tables import Batch
from domain.vocabulary import Outcome
from services.batch_documents import batch_list as batch_list
from services.batch_documents import batch_show as batch_show
from services.unit_of_work import Database


def answers(db: Database) -> None:
    """Reach the database once, so that a command which cannot reach it fails before doing anything."""
    db.answers()


def sale_show(db: Database, request_id: str, company: str | None = None) -> dict[str, Any]:
    return db.read(lambda session: queries.sale_show(session, request_id, company))


def customer_show(db: Database, code: str, company: str | None = None) -> dict[str, Any]:
    return db.read(lambda session: queries.customer_show(session, code, company))


def stock_show(db: Database, outlet: str, sku: str | None = None) -> list[dict[str, Any]]:
    return db.read(lambda session: queries.stock_show(session, outlet, sku))


def reorder_list(db: Database, outlet: str | None = None) -> list[dict[str, Any]]:
    return db.read(lambda session: queries.reorder_list(session, outlet))


def receipt_document(db: Database, transaction_number: str, company: str | None = None) -> dict[str, str]:
    """The stored receipt as {transaction_number, kind, text, html}; with `company`, NotFound unless
    the sale is that company's."""

    def read(session: Session) -> dict[str, str]:
        if company is not None:
            queries.require_sale_of(session, transaction_number, company)
        return stored_receipt(session, transaction_number)

    return db.read(read)


def export_master_data(db: Database, kind: str, stream: TextIO) -> None:
    """Every row of `kind` as CSV with the import's columns, written to `stream` as it is read."""
    db.read(lambda session: export_csv(session, kind, stream))


def require_batch(db: Database, batch_id: int) -> None:
    """NotFound unless the batch exists (cheap: its one row, no summary)."""
    if db.read(lambda session: session.get(Batch, batch_id)) is None:
        raise NotFound("batch", str(batch_id))


def batch_requests(db: Database, batch_id: int, each: Callable[[dict[str, Any]], object]) -> None:
    """Every request of the batch with its outcome, in file order, handed to `each` as it is read
    (streamed: a million rows never sit in memory at once)."""

    def read(session: Session) -> None:
        for row in report.batch_requests(session, batch_id):
            each(row)

    db.read(read)


@dataclass(frozen=True)
class LedgerHealth:
    violations: list[dict[str, str]]  # {check, detail}
    sweeper: dict[str, Any]  # heartbeat.status: when the sweeper last ran, whether it is overdue
    seconds: dict[str, float] = field(default_factory=dict)  # how long each check took, by name

    @property
    def ok(self) -> bool:
        return not self.violations


def check(db: Database) -> LedgerHealth:
    """The ledger's invariants, and when the sweeper last ran (not an invariant, but a warning)."""

    def read(session: Session) -> LedgerHealth:
        seconds: dict[str, float] = {}
        violations = [{"check": v.check, "detail": v.detail} for v in check_ledger(session, seconds)]
        return LedgerHealth(violations, heartbeat.status(session, "sweeper"), seconds)

    return db.read(read)


@dataclass(frozen=True)
class BatchProgress:
    state: str
    requests: int
    done: int  # requests with an outcome
    rejected: int
    follow_ups: int  # of the batch's sales so far (all of them once the batch is POSTED)
    follow_ups_settled: int  # run, or failed for good
    follow_ups_failed: int


def batch_progress(db: Database, batch_id: int) -> BatchProgress:
    """Counts for a progress bar, polled every half second: a few rows, whatever the batch's size."""

    def read(session: Session) -> BatchProgress:
        batch = session.get(Batch, batch_id)
        if batch is None:
            raise NotFound("batch", str(batch_id))
        counts = report.progress(session, batch_id)
        done = batch.requests - counts[Outcome.PENDING]
        return BatchProgress(
            batch.state,
            batch.requests,
            done,
            counts[Outcome.REJECTED],
            counts["follow_ups"],
            counts["follow_ups_settled"],
            counts["follow_ups_failed"],
        )

    return db.read(read)
