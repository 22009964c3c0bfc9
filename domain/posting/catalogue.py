"""Products as posting and the master data import read them: one query, by company and SKU."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, case, func, select
from sqlalchemy.orm import Session

from domain.posting.pricing import ProductInfo
from domain.tables import Product
from domain.vocabulary import GstCategory


def effective_gst_category() -> ColumnElement[str]:
    """A product's GST category; one that never named it has the default of its rate
    (domain.vocabulary.default_gst_category)."""
    by_rate = case((Product.gst_rate > 0, GstCategory.STANDARD.value), else_=GstCategory.ZERO_RATED.value)
    return func.coalesce(Product.gst_category, by_rate)


PRODUCT_COLUMNS = (
    Product.id,
    Product.company_id,
    Product.sku,
    Product.name,
    Product.price,
    Product.gst_rate,
    Product.track_inventory,
    effective_gst_category().label("gst_category"),
)


def product_rows(
    conn: Connection | Session, company_ids: Collection[int], skus: Collection[str] | None = None
) -> list[Row[Any]]:
    """The products of these companies (of these SKUs only, when given): id, company_id, sku, name,
    price, gst_rate, track_inventory, gst_category."""
    query = select(*PRODUCT_COLUMNS).where(Product.company_id.in_(company_ids))
    if skus is not None:
        query = query.where(Product.sku.in_(skus))
    return list(conn.execute(query))


class Catalogue:
    """Products read while posting one chunk of requests (a second or so), by company and SKU.

    The chunk's sales see each product as it was when the chunk first needed it: no different from
    a catalogue import landing between two chunks. Unknown SKUs are asked for again every time.
    """

    def __init__(self) -> None:
        self._known: dict[tuple[int, str], ProductInfo] = {}

    def products(self, conn: Connection, company_id: int, skus: set[str]) -> dict[str, ProductInfo]:
        missing = {sku for sku in skus if (company_id, sku) not in self._known}
        if missing:
            for row in product_rows(conn, [company_id], missing):
                info = ProductInfo(
                    row.id, row.sku, row.name, row.price, row.gst_rate, row.track_inventory, row.gst_category
                )
                self._known[(company_id, info.sku)] = info
        return {sku: self._known[(company_id, sku)] for sku in skus if (company_id, sku) in self._known}
