"""The ledger's tables. Rules that must always hold are database constraints, not only code.

No relationships are mapped: every read is an explicit query, so nothing loads lazily after a commit.
Returns are stored signed (negative quantities and amounts), so a plain SUM nets sales and returns.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    Sequence,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

MONEY = Numeric(14, 2)
PRICE = Numeric(14, 4)
QTY = Numeric(14, 3)
RATE = Numeric(5, 2)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def core(model: type[Base]) -> Table:
    """The Core table behind a mapped class. Hot-path inserts go through it: the ORM's bulk path
    spends more time on per-row bookkeeping than PostgreSQL spends on the rows."""
    return cast(Table, model.__table__)


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    uen: Mapped[str] = mapped_column(String(20))
    gst_registration_number: Mapped[str | None] = mapped_column(String(20))
    prices_include_gst: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    currency: Mapped[str] = mapped_column(String(3), server_default="SGD")
    dollars_per_point: Mapped[Decimal] = mapped_column(MONEY, server_default="10")
    oversell_pos: Mapped[str] = mapped_column(String(10), server_default="ALLOW")
    oversell_web: Mapped[str] = mapped_column(String(10), server_default="REJECT")
    __table_args__ = (
        CheckConstraint("dollars_per_point > 0", name="points_rate_positive"),
        CheckConstraint("oversell_pos IN ('ALLOW', 'REJECT') AND oversell_web IN ('ALLOW', 'REJECT')", name="oversell"),
    )


class Outlet(Base):
    __tablename__ = "outlets"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, server_default="")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    username: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(String(200), server_default="")
    __table_args__ = (UniqueConstraint("company_id", "username"),)


class Supplier(Base):
    __tablename__ = "suppliers"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    name: Mapped[str] = mapped_column(String(200))
    __table_args__ = (UniqueConstraint("company_id", "name"),)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    sku: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    price: Mapped[Decimal] = mapped_column(PRICE)
    gst_rate: Mapped[Decimal] = mapped_column(RATE, server_default="9.00")
    cost: Mapped[Decimal | None] = mapped_column(PRICE)
    track_inventory: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    reorder_point: Mapped[Decimal | None] = mapped_column(QTY)
    reorder_target: Mapped[Decimal | None] = mapped_column(QTY)
    supplier_id: Mapped[int | None] = mapped_column(ForeignKey("suppliers.id"))
    __table_args__ = (
        UniqueConstraint("company_id", "sku"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("cost IS NULL OR cost >= 0", name="cost_not_negative"),
        CheckConstraint("gst_rate >= 0 AND gst_rate < 100", name="gst_rate_range"),
        CheckConstraint(
            "reorder_target IS NULL OR reorder_point IS NULL OR reorder_target >= reorder_point",
            name="reorder_target_above_point",
        ),
    )


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), server_default="")
    email: Mapped[str | None] = mapped_column(String(300))
    points: Mapped[int] = mapped_column(BigInteger, server_default="0")
    __table_args__ = (UniqueConstraint("company_id", "code"),)


class StockLevel(Base):
    __tablename__ = "stock_levels"
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    on_hand: Mapped[Decimal] = mapped_column(QTY, server_default="0")


class StockMovement(Base):
    __tablename__ = "stock_movements"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[str] = mapped_column(String(12))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    created_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("kind IN ('SALE', 'RETURN', 'RECEIPT', 'ADJUSTMENT')", name="kind"),
        CheckConstraint("kind NOT IN ('SALE', 'RETURN') OR sale_id IS NOT NULL", name="sale_movement_has_sale"),
        Index("ix_stock_movements_outlet_product", "outlet_id", "product_id"),
    )


class StockDiscrepancy(Base):
    """A till sold more than the books held (oversell ALLOW): posted, and kept here to look at."""

    __tablename__ = "stock_discrepancies"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    on_hand_after: Mapped[Decimal] = mapped_column(QTY)
    created_at: Mapped[datetime] = _now()


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(10), server_default="RECEIVED")
    requests: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _now()
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    enqueued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last sent; the sweeper's clock
    __table_args__ = (CheckConstraint("state IN ('RECEIVED', 'POSTING', 'POSTED', 'ATTENTION', 'DONE')", name="state"),)


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
    outcome: Mapped[str] = mapped_column(String(10), server_default="PENDING")
    reason: Mapped[str | None] = mapped_column(String(30))
    message: Mapped[str | None] = mapped_column(Text)
    details: Mapped[Any | None] = mapped_column(JSONB)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    existing_fingerprint: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    received_at: Mapped[datetime] = _now()
    enqueued_at: Mapped[datetime] = _now()  # last handed to the queue; the sweeper's clock
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    __table_args__ = (
        CheckConstraint("outcome IN ('PENDING', 'POSTED', 'DUPLICATE', 'CONFLICT', 'REJECTED')", name="outcome"),
        CheckConstraint("(outcome = 'REJECTED') = (reason IS NOT NULL)", name="reason_iff_rejected"),
        CheckConstraint("outcome NOT IN ('POSTED', 'DUPLICATE') OR sale_id IS NOT NULL", name="posted_has_sale"),
        Index("ix_sale_requests_request_id", "request_id"),
        Index("ix_sale_requests_batch", "batch_id", "outcome"),
        Index("ix_sale_requests_pending", "enqueued_at", postgresql_where=text("outcome = 'PENDING'")),
    )


sale_number = Sequence("sale_number_seq", metadata=Base.metadata)


class Sale(Base):
    __tablename__ = "sales"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    request_id: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    transaction_number: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(6))
    original_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    channel: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    rounding_adjustment: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    tendered: Mapped[Decimal] = mapped_column(MONEY)
    change_due: Mapped[Decimal] = mapped_column(MONEY)
    notes: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime] = _now()
    __table_args__ = (
        UniqueConstraint("company_id", "request_id"),
        CheckConstraint("kind IN ('sale', 'return')", name="kind"),
        CheckConstraint("channel IN ('pos', 'web')", name="channel"),
        CheckConstraint(
            "(kind = 'sale' AND total >= 0 AND subtotal >= 0) OR (kind = 'return' AND total <= 0 AND subtotal <= 0)",
            name="sign_follows_kind",
        ),
        CheckConstraint("change_due >= 0", name="change_not_negative"),
        CheckConstraint("tendered - change_due = total", name="tenders_pay_total"),
    )


class SaleLine(Base):
    __tablename__ = "sale_lines"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(QTY)
    unit_price: Mapped[Decimal] = mapped_column(PRICE)
    discount: Mapped[Decimal] = mapped_column(MONEY)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    gst_rate: Mapped[Decimal] = mapped_column(RATE)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    __table_args__ = (
        UniqueConstraint("sale_id", "line_no"),
        CheckConstraint("unit_price >= 0 AND discount >= 0 AND gst_rate >= 0", name="not_negative"),
        CheckConstraint("quantity <> 0", name="quantity_not_zero"),
    )


class Tender(Base):
    __tablename__ = "tenders"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    reference: Mapped[str | None] = mapped_column(String(200))
    __table_args__ = (
        CheckConstraint("method IN ('CASH', 'CARD', 'NETS', 'PAYNOW', 'VOUCHER', 'STORE_CREDIT')", name="method"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )


class FollowUp(Base):
    """Outbox: written in the sale's own transaction; `done_at` set when the follow-up has run.

    A follow-up whose work keeps failing with the same non-transient error is retried a bounded
    number of times (`attempts`), then marked `failed_at` with its `error`: never retried for
    ever, never swept again until `tillpost followups retry` clears the mark.
    """

    __tablename__ = "follow_ups"
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    created_at: Mapped[datetime] = _now()
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint("kind IN ('REORDER', 'LOYALTY', 'RECEIPT')", name="kind"),
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
    created_at: Mapped[datetime] = _now()


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
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    __table_args__ = (
        CheckConstraint("status IN ('OPEN', 'CLOSED')", name="status"),
        CheckConstraint("suggested_quantity > 0", name="quantity_positive"),
        Index("uq_reorder_open", "outlet_id", "product_id", unique=True, postgresql_where=text("status = 'OPEN'")),
    )


class Receipt(Base):
    __tablename__ = "receipts"
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), primary_key=True)
    transaction_number: Mapped[str] = mapped_column(String(80), unique=True)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class Heartbeat(Base):
    """When a recurring job (the sweeper) last ran, and what it did: `batch show` and `check`
    warn when it is overdue, so a recovery that stopped is seen instead of trusted."""

    __tablename__ = "heartbeats"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime] = _now()
    details: Mapped[Any | None] = mapped_column(JSONB)
