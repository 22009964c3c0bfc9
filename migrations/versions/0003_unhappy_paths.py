"""Unhappy paths: follow-ups that fail for good (bounded attempts, FAILED with its error), batch
state ATTENTION, and a heartbeat table (when the sweeper last ran).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("follow_ups", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("follow_ups", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("follow_ups", sa.Column("error", sa.Text(), nullable=True))
    op.create_check_constraint(op.f("ck_follow_ups_done_or_failed"), "follow_ups", "done_at IS NULL OR failed_at IS NULL")
    op.drop_index("ix_follow_ups_open", table_name="follow_ups")
    op.create_index(
        "ix_follow_ups_open",
        "follow_ups",
        ["created_at"],
        postgresql_where=sa.text("done_at IS NULL AND failed_at IS NULL"),
    )
    op.create_index(
        "ix_follow_ups_failed", "follow_ups", ["sale_id"], postgresql_where=sa.text("failed_at IS NOT NULL")
    )
    op.drop_constraint(op.f("ck_batches_state"), "batches", type_="check")
    op.create_check_constraint(
        op.f("ck_batches_state"), "batches", "state IN ('RECEIVED', 'POSTING', 'POSTED', 'ATTENTION', 'DONE')"
    )
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_heartbeats"),
    )


def downgrade() -> None:
    op.drop_table("heartbeats")
    op.drop_constraint(op.f("ck_batches_state"), "batches", type_="check")
    op.create_check_constraint(op.f("ck_batches_state"), "batches", "state IN ('RECEIVED', 'POSTING', 'POSTED', 'DONE')")
    op.drop_index("ix_follow_ups_failed", table_name="follow_ups")
    op.drop_index("ix_follow_ups_open", table_name="follow_ups")
    op.create_index("ix_follow_ups_open", "follow_ups", ["created_at"], postgresql_where=sa.text("done_at IS NULL"))
    op.drop_constraint(op.f("ck_follow_ups_done_or_failed"), "follow_ups", type_="check")
    op.drop_column("follow_ups", "error")
    op.drop_column("follow_ups", "failed_at")
    op.drop_column("follow_ups", "attempts")
