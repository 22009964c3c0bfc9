"""`batch show` and `batch list`: read on a plain connection (`Database.rows`), so that the command,
polled every second while a batch posts, imports neither the ORM nor the mapped tables."""

from __future__ import annotations

from typing import Any

from domain.batches import document
from services.unit_of_work import Database


def batch_show(db: Database, batch_id: int, reconcile: bool = False) -> dict[str, Any]:
    """The batch document; `reconcile` runs the reconciliation now (a scan of the batch) instead of
    showing the one stored when the batch settled. Its figures are of one moment (a snapshot)."""
    if reconcile:
        from domain.batches import report  # the reconciliation's queries are the ORM's

        return db.read(lambda session: report.batch_show(session, batch_id, reconcile=True), snapshot=True)
    return db.rows(lambda connection: document.batch_document(connection, batch_id), snapshot=True)


def batch_list(db: Database) -> list[dict[str, Any]]:
    return db.rows(document.batch_list)
