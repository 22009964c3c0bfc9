"""A posted sale's batch tallies are kept by the statement that writes it, not by triggers.

Posting a sale fired two triggers: the request's change of outcome (an upsert, then a plpgsql call
reading the sale, its tenders and lines back for a second upsert) and the follow-up rows' insert (a
transition table joined to the sale for a third). On the large day that was about a quarter of a
sale's time on the server. domain/posting/sale.py's WRITE_SALE now adds the same figures from the
rows it writes (TALLIED), in one upsert; so:
- the trigger on sale_requests no longer fires for PENDING -> POSTED (the write statement is the only
  one that records POSTED, and it tallies its sale); every other change still fires it, and a POSTED
  request changed or deleted later still takes its sale out;
- the trigger on follow_ups' INSERT is gone (the write statement is the only one that inserts them).
`tillpost check` compares the tallies with the ledger as before.

And fewer index entries a sale: sale_lines' index on sale_id is dropped (the unique (sale_id, line_no)
finds a sale's lines), and the sales' indexes on original_sale_id, customer_id and batch_id hold only
the sales that have one (most sales are no return; many have no member; web orders have no batch).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANGED = (
    "(OLD.outcome, OLD.reason, OLD.batch_id, OLD.sale_id) IS DISTINCT FROM (NEW.outcome, NEW.reason, NEW.batch_id,"
    " NEW.sale_id)"
)
POSTED_NOW = "OLD.outcome = 'PENDING' AND NEW.outcome = 'POSTED'"  # tallied by the write statement itself
REQUEST_CHANGED = (
    "CREATE TRIGGER tally_request_changed AFTER UPDATE OF outcome, reason, batch_id, sale_id ON sale_requests"
    " FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION tally_request_changed()"
)
FOLLOW_UPS_WRITTEN = (
    "CREATE TRIGGER tally_follow_ups_written AFTER INSERT ON follow_ups REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION tally_follow_ups_written()"
)


SPARSE = ("original_sale_id", "customer_id", "batch_id")


def upgrade() -> None:
    op.drop_index("ix_sale_lines_sale_id", table_name="sale_lines")
    for column in SPARSE:
        op.drop_index(f"ix_sales_{column}", table_name="sales")
        op.create_index(f"ix_sales_{column}", "sales", [column], postgresql_where=sa.text(f"{column} IS NOT NULL"))
    op.execute("DROP TRIGGER tally_request_changed ON sale_requests")
    op.execute(REQUEST_CHANGED.format(when=f"{CHANGED} AND NOT ({POSTED_NOW})"))
    op.execute("DROP TRIGGER tally_follow_ups_written ON follow_ups")


def downgrade() -> None:
    for column in SPARSE:
        op.drop_index(f"ix_sales_{column}", table_name="sales")
        op.create_index(f"ix_sales_{column}", "sales", [column])
    op.create_index("ix_sale_lines_sale_id", "sale_lines", ["sale_id"])
    op.execute("DROP TRIGGER tally_request_changed ON sale_requests")
    op.execute(REQUEST_CHANGED.format(when=CHANGED))
    op.execute(FOLLOW_UPS_WRITTEN)
