"""Batches cost the same to show whatever their size, and `tillpost check` scales: running tallies
per batch kept by triggers, the reconciliation stored once a batch settles, and the indexes the
checks need.

Revision ID: 0006
Revises: 0005

Backfill: every batch's tallies from a GROUP BY of its rows (slot 0), and the reconciliation of
every settled batch (DONE or ATTENTION) computed now, as `batch show --reconcile` would.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from domain.batches import tallies

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGGERS = {  # trigger (and its function): table, event, transition tables
    "tally_requests_inserted": ("sale_requests", "INSERT", "NEW TABLE AS new_rows"),
    "tally_requests_updated": ("sale_requests", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "tally_requests_deleted": ("sale_requests", "DELETE", "OLD TABLE AS old_rows"),
    "tally_follow_ups_inserted": ("follow_ups", "INSERT", "NEW TABLE AS new_rows"),
    "tally_follow_ups_updated": ("follow_ups", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
    "tally_follow_ups_deleted": ("follow_ups", "DELETE", "OLD TABLE AS old_rows"),
}


def upgrade() -> None:
    op.create_table(
        "batch_tallies",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("tally", sa.String(12), nullable=False),
        sa.Column("key", sa.String(30), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("n", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.Column("tax", sa.Numeric(18, 2), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_tallies_batch_id_batches"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("batch_id", "tally", "key", "slot", name=op.f("pk_batch_tallies")),
    )
    op.add_column("batches", sa.Column("reconciliation", postgresql.JSONB(), nullable=True))
    op.add_column("batches", sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True))
    # `check`: every sale POSTED by one request (a count per sale) looks requests up by sale
    op.create_index(
        "ix_sale_requests_sale", "sale_requests", ["sale_id"], postgresql_where=sa.text("sale_id IS NOT NULL")
    )
    for name, statement in tallies.trigger_functions().items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $body$\n"
            f"BEGIN\n{statement};\nRETURN NULL;\nEND\n$body$"
        )
    for name, (table, event, transition) in TRIGGERS.items():
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {transition}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    connection = op.get_bind()
    tallies.backfill(connection)
    from domain.batches.report import store_reconciliation

    session = Session(bind=connection)
    settled = connection.execute(sa.text("SELECT id FROM batches WHERE state IN ('DONE', 'ATTENTION') ORDER BY id"))
    for (batch_id,) in settled.all():
        store_reconciliation(session, batch_id)
    session.flush()


def downgrade() -> None:
    for name, (table, _, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}")
        op.execute(f"DROP FUNCTION {name}()")
    op.drop_index("ix_sale_requests_sale", table_name="sale_requests")
    op.drop_column("batches", "reconciled_at")
    op.drop_column("batches", "reconciliation")
    op.drop_table("batch_tallies")
