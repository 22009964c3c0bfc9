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

# What each trigger adds (domain/batches/tallies.py has the table of tallies, and EXPECTED: the same
# sums from every row, which `tillpost check` compares with these). Each adds to its own backend's
# rows (slot), in (tally, key) order: no two transactions ever wait for each other on a tally.
UPSERT = """
    ON CONFLICT (batch_id, tally, key, slot)
    DO UPDATE SET n = t.n + excluded.n, amount = t.amount + excluded.amount, tax = t.tax + excluded.tax"""

FUNCTIONS = {
    # A POSTED sale's totals (sign -1: its request is POSTED no more; +1: it is now).
    "tally_sale(b bigint, sale bigint, sign int) RETURNS void": f"""
BEGIN
  INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n, amount, tax)
  SELECT b, d.tally, d.key, pg_backend_pid(), sum(d.n), sum(d.amount), sum(d.tax) FROM (
    SELECT 'sales' AS tally, '' AS key, sign AS n, sign * s.total AS amount, sign * s.tax AS tax
    FROM sales s WHERE s.id = sale
    UNION ALL SELECT 'outlet', s.outlet_id::text, sign, sign * s.total, sign * s.tax FROM sales s WHERE s.id = sale
    UNION ALL SELECT 'change', '', 0, sign * s.change_due, 0 FROM sales s WHERE s.id = sale
    UNION ALL SELECT 'tender', t.method, sign, sign * t.amount, 0 FROM tenders t WHERE t.sale_id = sale
    UNION ALL SELECT 'gst_rate', l.gst_rate::text, sign, sign * l.amount, sign * l.tax
    FROM sale_lines l WHERE l.sale_id = sale
  ) d GROUP BY d.tally, d.key ORDER BY d.tally, d.key {UPSERT};
END""",
    # Posting records one outcome per statement: per row (one small cached plan), fired only when a
    # tallied column changed. Minus the row as it was, plus the row as it is, in one statement.
    "tally_request_changed() RETURNS trigger": f"""
DECLARE
  was sale_requests := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD END;
  now_is sale_requests := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW END;
BEGIN
  INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n)
  SELECT d.batch_id, d.tally, d.key, pg_backend_pid(), sum(d.n) FROM (
    VALUES (was.batch_id, 'outcome', was.outcome, -1), (was.batch_id, 'reason', was.reason, -1),
           (now_is.batch_id, 'outcome', now_is.outcome, 1), (now_is.batch_id, 'reason', now_is.reason, 1)
  ) AS d(batch_id, tally, key, n)
  WHERE d.batch_id IS NOT NULL AND d.key IS NOT NULL
  GROUP BY d.batch_id, d.tally, d.key HAVING sum(d.n) <> 0 ORDER BY d.batch_id, d.tally, d.key {UPSERT};
  IF was.outcome = 'POSTED' AND was.batch_id IS NOT NULL THEN
    PERFORM tally_sale(was.batch_id, was.sale_id, -1);
  END IF;
  IF now_is.outcome = 'POSTED' AND now_is.batch_id IS NOT NULL THEN
    PERFORM tally_sale(now_is.batch_id, now_is.sale_id, 1);
  END IF;
  RETURN NULL;
END""",
    # Staging COPYs a whole file: per statement. A request is received PENDING or REJECTED, never
    # with a sale (sale_id is set when it is decided), so only its outcome and reason count.
    "tally_requests_received() RETURNS trigger": f"""
BEGIN
  INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n)
  SELECT batch_id, tally, key, pg_backend_pid(), sum(n) FROM (
    SELECT batch_id, 'outcome' AS tally, outcome AS key, 1 AS n FROM new_rows WHERE batch_id IS NOT NULL
    UNION ALL
    SELECT batch_id, 'reason', reason, 1 FROM new_rows WHERE batch_id IS NOT NULL AND reason IS NOT NULL
  ) d GROUP BY batch_id, tally, key ORDER BY batch_id, tally, key {UPSERT};
  RETURN NULL;
END""",
    # Follow-ups are written with their sale and run a set of sales at a time: per statement.
    "tally_follow_ups_written() RETURNS trigger": f"""
BEGIN
  INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n)
  SELECT s.batch_id, 'follow_ups', k.key, pg_backend_pid(), count(*)
  FROM new_rows f JOIN sales s ON s.id = f.sale_id
  CROSS JOIN LATERAL (VALUES (''), (CASE WHEN f.done_at IS NOT NULL OR f.failed_at IS NOT NULL THEN 'settled' END),
                             (CASE WHEN f.failed_at IS NOT NULL THEN 'failed' END)) AS k(key)
  WHERE s.batch_id IS NOT NULL AND k.key IS NOT NULL
  GROUP BY s.batch_id, k.key ORDER BY s.batch_id, k.key {UPSERT};
  RETURN NULL;
END""",
    "tally_follow_ups_changed() RETURNS trigger": f"""
BEGIN
  INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n)
  SELECT s.batch_id, k.key, k.value, pg_backend_pid(), sum(k.n)
  FROM new_rows f JOIN old_rows o USING (sale_id, kind) JOIN sales s ON s.id = f.sale_id
  CROSS JOIN LATERAL (VALUES
      ('follow_ups', 'settled', (f.done_at IS NOT NULL OR f.failed_at IS NOT NULL)::int
                                - (o.done_at IS NOT NULL OR o.failed_at IS NOT NULL)::int),
      ('follow_ups', 'failed', (f.failed_at IS NOT NULL)::int - (o.failed_at IS NOT NULL)::int)
  ) AS k(key, value, n)
  WHERE s.batch_id IS NOT NULL AND k.n <> 0
  GROUP BY s.batch_id, k.key, k.value HAVING sum(k.n) <> 0 ORDER BY s.batch_id, k.key, k.value {UPSERT};
  RETURN NULL;
END""",
}

TRIGGERS = {
    "tally_request_changed": (
        "AFTER UPDATE OF outcome, reason, batch_id, sale_id ON sale_requests FOR EACH ROW"
        " WHEN ((OLD.outcome, OLD.reason, OLD.batch_id, OLD.sale_id)"
        " IS DISTINCT FROM (NEW.outcome, NEW.reason, NEW.batch_id, NEW.sale_id))",
        "tally_request_changed",
    ),
    "tally_request_deleted": ("AFTER DELETE ON sale_requests FOR EACH ROW", "tally_request_changed"),
    "tally_requests_received": (
        "AFTER INSERT ON sale_requests REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "tally_requests_received",
    ),
    "tally_follow_ups_written": (
        "AFTER INSERT ON follow_ups REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT",
        "tally_follow_ups_written",
    ),
    "tally_follow_ups_changed": (
        "AFTER UPDATE ON follow_ups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT",
        "tally_follow_ups_changed",
    ),
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
    for signature, body in FUNCTIONS.items():
        op.execute(f"CREATE FUNCTION {signature} LANGUAGE plpgsql AS $body${body}\n$body$")
    for name, (when, function) in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")
    connection = op.get_bind()
    tallies.backfill(connection)
    from domain.batches.report import store_reconciliation

    session = Session(bind=connection)
    settled = connection.execute(sa.text("SELECT id FROM batches WHERE state IN ('DONE', 'ATTENTION') ORDER BY id"))
    for (batch_id,) in settled.all():
        store_reconciliation(session, batch_id)
    session.flush()


def downgrade() -> None:
    for name, (when, _) in TRIGGERS.items():
        op.execute(f"DROP TRIGGER {name} ON {when.split(' ON ')[1].split()[0]}")  # the table
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION {signature.split(' RETURNS')[0]}")
    op.drop_index("ix_sale_requests_sale", table_name="sale_requests")
    op.drop_column("batches", "reconciled_at")
    op.drop_column("batches", "reconciliation")
    op.drop_table("batch_tallies")
