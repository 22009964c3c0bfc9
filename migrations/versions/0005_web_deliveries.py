"""Webhook deliveries of the web shops (Shopify, WooCommerce), kept for audit with what each became.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=True),
        sa.Column("topic", sa.String(100), nullable=False),
        sa.Column("order_id", sa.String(100), nullable=True),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("request_ids", postgresql.JSONB(), nullable=False),
        sa.Column("intake_ids", postgresql.JSONB(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_deliveries")),
    )
    op.create_index("ix_web_deliveries_order", "web_deliveries", ["platform", "order_id"])
    op.create_index("ix_web_deliveries_delivery", "web_deliveries", ["platform", "delivery_id"])


def downgrade() -> None:
    op.drop_index("ix_web_deliveries_delivery", table_name="web_deliveries")
    op.drop_index("ix_web_deliveries_order", table_name="web_deliveries")
    op.drop_table("web_deliveries")
