"""Products as posting and the master data import read them: one query, by company and SKU."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Row, String, case, func, select, text
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

    def read_ahead(self, conn: Connection, intake_ids: Collection[int]) -> None:
        """Read at once every product the chunk's requests name (one statement, not one a sale)."""
        named = _NAMED_BY_REQUESTS.bindparams(intake_ids=list(intake_ids)).subquery("named")
        query = select(*PRODUCT_COLUMNS).join(
            named, (Product.company_id == named.c.company_id) & (Product.sku == named.c.sku)
        )
        for row in conn.execute(query):
            self._known[(row.company_id, row.sku)] = _info(row)

    def products(self, conn: Connection, company_id: int, skus: set[str]) -> dict[str, ProductInfo]:
        missing = {sku for sku in skus if (company_id, sku) not in self._known}
        if missing:
            for row in product_rows(conn, [company_id], missing):
                self._known[(company_id, row.sku)] = _info(row)
        return {sku: self._known[(company_id, sku)] for sku in skus if (company_id, sku) in self._known}


def _info(row: Any) -> ProductInfo:
    return ProductInfo(row.id, row.sku, row.name, row.price, row.gst_rate, row.track_inventory, row.gst_category)


# The (company, SKU) pairs the lines of these requests name, in the company of the outlet each
# names. A stored payload is whatever was received: anything but an object with a list of lines
# names nothing.
_NAMED_BY_REQUESTS = text("""
    SELECT DISTINCT o.company_id, line ->> 'sku' AS sku
    FROM sale_requests AS r
    JOIN outlets AS o ON o.code = r.payload ->> 'outlet'
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.payload -> 'lines') = 'array' THEN r.payload -> 'lines' ELSE '[]' END
    ) AS line
    WHERE r.id = ANY(CAST(:intake_ids AS bigint[])) AND jsonb_typeof(r.payload) = 'object'
""").columns(company_id=Integer, sku=String)
