"""Stock: on hand per outlet and product, the movements it is the sum of, and the oversells kept to look at."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from domain.posting.stock import MovementKind
from domain.tables.base import QTY, Base, defaults_to_now
from domain.vocabulary import one_of


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
    created_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        CheckConstraint(one_of("kind", MovementKind), name="kind"),
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
    created_at: Mapped[datetime] = defaults_to_now()
