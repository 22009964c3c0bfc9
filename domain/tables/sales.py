"""Posted sales and returns: the header, its lines and its tenders. Returns are stored signed
(negative quantities and amounts), so a plain SUM nets sales and returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import MONEY, PRICE, QTY, RATE, Base, defaults_to_now
from domain.vocabulary import Channel, GstCategory, Kind, TenderMethod, one_of

sale_number = Sequence("sale_number_seq", metadata=Base.metadata)


SPARSE = ("original_sale_id", "customer_id", "batch_id")


class Sale(Base):
    __tablename__ = "sales"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    request_id: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    transaction_number: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(6))
    original_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    channel: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    tax: Mapped[Decimal] = mapped_column(MONEY)
    rounding_adjustment: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)
    tendered: Mapped[Decimal] = mapped_column(MONEY)
    change_due: Mapped[Decimal] = mapped_column(MONEY)
    notes: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        UniqueConstraint("company_id", "request_id"),
        CheckConstraint(one_of("kind", Kind), name="kind"),
        CheckConstraint(one_of("channel", Channel), name="channel"),
        CheckConstraint(
            f"(kind = '{Kind.SALE}' AND total >= 0 AND subtotal >= 0)"
            f" OR (kind = '{Kind.RETURN}' AND total <= 0 AND subtotal <= 0)",
            name="sign_follows_kind",
        ),
        CheckConstraint("change_due >= 0", name="change_not_negative"),
        CheckConstraint("tendered - change_due = total", name="tenders_pay_total"),
        # An outlet's business day (Z and X reports) and a company's period (GST F5) by range.
        Index("ix_sales_outlet_occurred", "outlet_id", "occurred_at"),
        # Most sales have no original (only returns do), no member, or no batch (web orders): the
        # indexes hold only the sales that have one, so a sale without costs no entry (migration 0009).
        *(Index(f"ix_sales_{column}", column, postgresql_where=text(f"{column} IS NOT NULL")) for column in SPARSE),
    )


class SaleLine(Base):
    __tablename__ = "sale_lines"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"))  # (sale_id, line_no) finds it
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
    gst_category: Mapped[str] = mapped_column(String(12))  # the product's at posting, like the rate
    __table_args__ = (
        UniqueConstraint("sale_id", "line_no"),
        CheckConstraint(one_of("gst_category", GstCategory), name="gst_category"),
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
        CheckConstraint(one_of("method", TenderMethod), name="method"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )
