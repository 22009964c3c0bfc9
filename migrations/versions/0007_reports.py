"""Closing the day and the quarter: GST categories on products and sale lines, issued Z reports and
cash counts, and an index for an outlet's day of sales.

Existing sale lines get the category their stored rate implies (standard above 0, else zero-rated),
and so do existing products, as an import without the column would give them.

Revision ID: 0007
Revises: 0005 (re-chained after 0006 at merge)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = "gst_category IN ('standard', 'zero_rated', 'exempt', 'out_of_scope')"
FROM_RATE = "CASE WHEN gst_rate > 0 THEN 'standard' ELSE 'zero_rated' END"


def upgrade() -> None:
    op.add_column("products", sa.Column("gst_category", sa.String(12), nullable=True))
    op.execute(f"UPDATE products SET gst_category = {FROM_RATE}")
    op.create_check_constraint(op.f("ck_products_gst_category"), "products", f"gst_category IS NULL OR {CATEGORIES}")
    op.add_column("sale_lines", sa.Column("gst_category", sa.String(12), nullable=True))
    op.execute(f"UPDATE sale_lines SET gst_category = {FROM_RATE}")
    op.alter_column("sale_lines", "gst_category", nullable=False)
    op.create_check_constraint(op.f("ck_sale_lines_gst_category"), "sale_lines", CATEGORIES)
    op.create_index("ix_sales_outlet_occurred", "sales", ["outlet_id", "occurred_at"])
    op.create_table(
        "cash_counts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("counted_by", sa.String(100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_cash_counts_amount_not_negative")),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"], name=op.f("fk_cash_counts_outlet_id_outlets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cash_counts")),
    )
    op.create_index("ix_cash_counts_day", "cash_counts", ["outlet_id", "business_date", "id"])
    op.create_table(
        "z_reports",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("outlet_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("figures", postgresql.JSONB(), nullable=False),
        sa.Column("cash_count_id", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("number > 0", name=op.f("ck_z_reports_number_positive")),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], name=op.f("fk_z_reports_company_id_companies")),
        sa.ForeignKeyConstraint(["outlet_id"], ["outlets.id"], name=op.f("fk_z_reports_outlet_id_outlets")),
        sa.ForeignKeyConstraint(
            ["cash_count_id"], ["cash_counts.id"], name=op.f("fk_z_reports_cash_count_id_cash_counts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_z_reports")),
        sa.UniqueConstraint("outlet_id", "business_date", name=op.f("uq_z_reports_outlet_id")),
        sa.UniqueConstraint("outlet_id", "number", name="uq_z_reports_outlet_number"),
    )


def downgrade() -> None:
    op.drop_table("z_reports")
    op.drop_index("ix_cash_counts_day", table_name="cash_counts")
    op.drop_table("cash_counts")
    op.drop_index("ix_sales_outlet_occurred", table_name="sales")
    op.drop_column("sale_lines", "gst_category")
    op.drop_column("products", "gst_category")
