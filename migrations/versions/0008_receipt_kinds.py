"""Receipts say which kind they are (simplified tax invoice, tax invoice, receipt, credit note), and
customers gain an optional address, printed on a full tax invoice.

Receipts stored before this revision keep their text and HTML as they were; their kind is the one
their own title declares: a return's is CREDIT_NOTE, a company without a GST registration number
printed RECEIPT, any other printed "TAX INVOICE" and is recorded TAX_INVOICE.

Revision ID: 0008
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "kind IN ('SIMPLIFIED_TAX_INVOICE', 'TAX_INVOICE', 'RECEIPT', 'CREDIT_NOTE')"


def upgrade() -> None:
    op.add_column("customers", sa.Column("address", sa.String(500), nullable=True))
    op.add_column("receipts", sa.Column("kind", sa.String(24), nullable=True))
    op.execute("""
        UPDATE receipts r SET kind = CASE
            WHEN s.kind = 'return' THEN 'CREDIT_NOTE'
            WHEN c.gst_registration_number IS NULL THEN 'RECEIPT'
            ELSE 'TAX_INVOICE' END
        FROM sales s JOIN companies c ON c.id = s.company_id
        WHERE s.id = r.sale_id
    """)
    op.alter_column("receipts", "kind", nullable=False)
    op.create_check_constraint(op.f("ck_receipts_kind"), "receipts", KINDS)


def downgrade() -> None:
    op.drop_constraint(op.f("ck_receipts_kind"), "receipts", type_="check")
    op.drop_column("receipts", "kind")
    op.drop_column("customers", "address")
