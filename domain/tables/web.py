"""Web-shop webhook deliveries, kept for audit: every signed delivery the HTTP intake accepted, its
platform headers, and what it became (the sale requests it was recorded as, or a note why none)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.tables.base import Base, defaults_to_now


class WebDelivery(Base):
    """One webhook delivery as received. The same order delivered again (a retry, or another topic)
    is another row here, while the ledger posts it once (its request_id is the platform's order id)."""

    __tablename__ = "web_deliveries"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str | None] = mapped_column(String(200))  # X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID
    topic: Mapped[str] = mapped_column(String(100))
    order_id: Mapped[str | None] = mapped_column(String(100))
    headers: Mapped[Any] = mapped_column(JSONB)  # the platform's delivery headers (never a signature)
    request_ids: Mapped[Any] = mapped_column(JSONB)  # the sale requests it became (may be none)
    intake_ids: Mapped[Any] = mapped_column(JSONB)  # their rows in sale_requests
    note: Mapped[str | None] = mapped_column(Text)  # why it became what it did
    received_at: Mapped[datetime] = defaults_to_now()
    __table_args__ = (
        Index("ix_web_deliveries_order", "platform", "order_id"),
        Index("ix_web_deliveries_delivery", "platform", "delivery_id"),
    )
