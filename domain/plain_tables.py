"""The few ledger columns that `batch show`, `batch list` and the sweeper's heartbeat read and
write, as plain SQLAlchemy Core tables.

`batch show` runs in a new process each time it is polled (every second, while a batch posts):
importing the ORM and every mapped table of domain/tables costs that process more than its queries
do, so these readers name only the columns they use. domain/tables stays the one description of
the schema (and of migrations); tests/unit/test_plain_tables.py checks that every column named here
is one of its columns.
"""

from __future__ import annotations

from sqlalchemy import column, table
from sqlalchemy.dialects.postgresql import JSONB

batches = table(
    "batches",
    column("id"),
    column("source"),
    column("state"),
    column("requests"),
    column("created_at"),
    column("posted_at"),
    column("done_at"),
    column("reconciliation", JSONB),
    column("reconciled_at"),
)
batch_tallies = table(
    "batch_tallies", column("batch_id"), column("tally"), column("key"), column("n"), column("amount"), column("tax")
)
outlets = table("outlets", column("id"), column("code"))
sales = table("sales", column("id"), column("batch_id"), column("transaction_number"), column("request_id"))
follow_ups = table(
    "follow_ups", column("sale_id"), column("kind"), column("error"), column("attempts"), column("failed_at")
)
heartbeats = table("heartbeats", column("name"), column("at"), column("details", JSONB))

ALL = (batches, batch_tallies, outlets, sales, follow_ups, heartbeats)
