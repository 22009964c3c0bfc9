"""Closing the day: issued Z reports (immutable, numbered gap-free per outlet) and cash counts (every
count kept; reports show the latest)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import MONEY, Base, defaults_to_now


class ZReport(Base):
    """A Z report as issued: its figures are what the day held at `issued_at`, never rewritten
    (a sale posted for that day later shows on `report x` as a difference from it)."""

    __tablename__ = "z_reports"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"))
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    business_date: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    figures: Mapped[Any] = mapped_column(JSONB)  # the `report z --json` document, amounts as strings
    cash_count_id: Mapped[int | None] = mapped_column(ForeignKey("cash_counts.id"))  # the count it was issued with
    issued_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        UniqueConstraint("outlet_id", "business_date"),
        UniqueConstraint("outlet_id", "number", name="uq_z_reports_outlet_number"),
        CheckConstraint("number > 0", name="number_positive"),
    )


class CashCount(Base):
    """The counted cash drawer of an outlet's business day, as recorded (a recount adds a row)."""

    __tablename__ = "cash_counts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlets.id"))
    business_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    counted_by: Mapped[str | None] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_cash_counts_day", "outlet_id", "business_date", "id"),
    )
