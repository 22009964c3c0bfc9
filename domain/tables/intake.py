"""The intake ledger: every request received (alone or in a batch file) and its one outcome, and the
heartbeat of the sweeper that sends undone work again."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import Base, defaults_to_now
from domain.vocabulary import BatchState, Outcome, one_of


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(10), server_default=BatchState.RECEIVED)
    requests: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = defaults_to_now()
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last sent; the sweeper's clock
    # The reconciliation, computed once when the batch settles (DONE or ATTENTION), null before and
    # after a replay reopened it (domain/batches/report.py).
    reconciliation: Mapped[Any | None] = mapped_column(JSONB)
    reconciled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (CheckConstraint(one_of("state", BatchState), name="state"),)


SUM = Numeric(18, 2)  # a batch's sum of MONEY amounts


class BatchTally(Base):
    """Running counts and sums of a batch, so `batch show` and the progress bar read a few rows
    whatever the batch's size. Kept by triggers on sale_requests and follow_ups in the transaction
    that changes them (migration 0006; what each tally counts: domain/batches/tallies.py).

    `slot` is the PostgreSQL backend that wrote the row: two transactions running at once are in two
    backends, so they never update the same tally row and never wait for each other. A tally is the
    sum over its slots."""

    __tablename__ = "batch_tallies"
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True)
    tally: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(30), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount: Mapped[Decimal] = mapped_column(SUM, server_default="0")
    tax: Mapped[Decimal] = mapped_column(SUM, server_default="0")


class SaleRequestRow(Base):
    """The intake ledger: every request received, durable before anything is enqueued.

    One row per submission. `outcome` is PENDING until a worker records exactly one final outcome.
    """

    __tablename__ = "sale_requests"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    line_no: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[Any] = mapped_column(JSONB)
    fingerprint: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10), server_default=Outcome.PENDING)
    reason: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[Any | None] = mapped_column(JSONB)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    existing_fingerprint: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    received_at: Mapped[datetime] = defaults_to_now()
    enqueued_at: Mapped[datetime] = defaults_to_now()  # last handed to the queue; the sweeper's clock
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint(one_of("outcome", Outcome), name="outcome"),
        CheckConstraint(f"(outcome = '{Outcome.REJECTED}') = (reason IS NOT NULL)", name="reason_iff_rejected"),
        CheckConstraint(
            f"outcome NOT IN ('{Outcome.POSTED}', '{Outcome.DUPLICATE}') OR sale_id IS NOT NULL", name="posted_has_sale"
        ),
        Index("ix_sale_requests_request_id", "request_id"),
        Index("ix_sale_requests_batch", "batch_id", "outcome"),
        Index("ix_sale_requests_sale", "sale_id", postgresql_where=text("sale_id IS NOT NULL")),
        Index("ix_sale_requests_pending", "enqueued_at", postgresql_where=text(f"outcome = '{Outcome.PENDING}'")),
    )


class Heartbeat(Base):
    """When a recurring job (the sweeper) last ran, and what it did: `batch show` and `check`
    warn when it is overdue, so a recovery that stopped is seen instead of trusted."""

    __tablename__ = "heartbeats"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime] = defaults_to_now()
    details: Mapped[Any | None] = mapped_column(JSONB)
