"""The follow-up kind RECEIPT is renamed CUSTOMER_RECEIPT: the receipt handed to the customer, no
longer confused with the stock movement RECEIPT (goods received), which keeps its name. The column grows from 10 to 16 characters to hold it.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("follow_ups", "kind", type_=sa.String(16), existing_type=sa.String(10), existing_nullable=False)
    _rename_kind("RECEIPT", "CUSTOMER_RECEIPT")


def downgrade() -> None:
    _rename_kind("CUSTOMER_RECEIPT", "RECEIPT")
    op.alter_column("follow_ups", "kind", type_=sa.String(10), existing_type=sa.String(16), existing_nullable=False)


def _rename_kind(old: str, new: str) -> None:
    kinds = ", ".join(f"'{kind}'" for kind in ("REORDER", "LOYALTY", new))
    op.drop_constraint(op.f("ck_follow_ups_kind"), "follow_ups", type_="check")
    op.execute(f"UPDATE follow_ups SET kind = '{new}' WHERE kind = '{old}'")
    op.create_check_constraint(op.f("ck_follow_ups_kind"), "follow_ups", f"kind IN ({kinds})")
