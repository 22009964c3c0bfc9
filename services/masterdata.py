"""Master data use cases that write: import a CSV of one kind, all rows or none (reading them back out
is services.lookups.export_master_data)."""

from __future__ import annotations

from typing import TextIO

from sqlalchemy.orm import Session

from domain.masterdata.importing import ImportReport, import_csv
from services.unit_of_work import Database


def import_rows(db: Database, kind: str, stream: TextIO) -> ImportReport:
    """Upsert the file's rows by natural key, or raise ImportFailed listing every bad row."""

    def upsert(session: Session) -> ImportReport:
        stream.seek(0)  # from the start, also when the transaction is tried again
        return import_csv(session, kind, stream)

    return db.transaction(upsert)
