"""Master data: companies, their outlets, users (cashiers), suppliers, products and customers."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import MONEY, PRICE, QTY, RATE, Base
from domain.vocabulary import GstCategory, one_of


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
    # NULL: the default for its rate (domain.vocabulary.default_gst_category), so a rate changed later
    # moves a product that never named its category along with it.
    gst_category: Mapped[str | None] = mapped_column(String(12))
    __table_args__ = (
        UniqueConstraint("company_id", "sku"),
        CheckConstraint(f"gst_category IS NULL OR {one_of('gst_category', GstCategory)}", name="gst_category"),
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
    address: Mapped[str | None] = mapped_column(String(500))  # printed on a full tax invoice
    points: Mapped[int] = mapped_column(BigInteger, server_default="0")
    __table_args__ = (UniqueConstraint("company_id", "code"),)
