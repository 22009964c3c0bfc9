"""What runs after a sale committed: the follow-up outbox, and what the follow-ups write (loyalty
entries, reorder suggestions, customer receipts)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import QTY, Base, defaults_to_now
from domain.vocabulary import FollowUpKind, ReceiptKind, one_of


class FollowUp(Base):
    """Outbox: written in the sale's own transaction; `done_at` set when the follow-up has run.

    A follow-up whose work keeps failing with the same non-transient error is retried a bounded
    number of times (`attempts`), then marked `failed_at` with its `error`: never retried for
    ever, never swept again until `tillpost followups retry` clears the mark.
    """

    __tablename__ = "follow_ups"
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = defaults_to_now()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(one_of("kind", FollowUpKind), name="kind"),
        CheckConstraint("done_at IS NULL OR failed_at IS NULL", name="done_or_failed"),
        Index("ix_follow_ups_open", "created_at", postgresql_where=text("done_at IS NULL AND failed_at IS NULL")),
        Index("ix_follow_ups_failed", "sale_id", postgresql_where=text("failed_at IS NOT NULL")),
    )


class LoyaltyEntry(Base):
    __tablename__ = "loyalty_entries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = defaults_to_now()


class ReorderSuggestion(Base):
    __tablename__ = "reorder_suggestions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    on_hand: Mapped[Decimal] = mapped_column(QTY)
    reorder_point: Mapped[Decimal] = mapped_column(QTY)
    suggested_quantity: Mapped[Decimal] = mapped_column(QTY)
    status: Mapped[str] = mapped_column(String(6), server_default="OPEN")
    created_at: Mapped[datetime] = defaults_to_now()
    updated_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        CheckConstraint("status IN ('OPEN', 'CLOSED')", name="status"),
        CheckConstraint("suggested_quantity > 0", name="quantity_positive"),
        Index("uq_reorder_open", "outlet_id", "product_id", unique=True, postgresql_where=text("status = 'OPEN'")),
    )


class Receipt(Base):
    """A receipt as it was rendered once, after its sale posted: it is never rendered again, so it
    keeps the names and addresses that were true then."""

    __tablename__ = "receipts"
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    transaction_number: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (CheckConstraint(one_of("kind", ReceiptKind), name="kind"),)
