"""The raw-SQL reference: the floor of what posting a sale must cost on this server.

The same sales as the pipeline's (read from the same file), each in its own transaction: the sale
header, its lines, its tenders, a stock movement per tracked line and on hand updated per line, in
stock-row order (product id) as the ledger locks them. psycopg 3 directly, no SQLAlchemy; as many
processes (one connection each) as the pipeline has pool processes; the server's own durability
(synchronous_commit as it is set). No intake row, no outcome, no follow-up outbox, no rules.

Everything that is not the database's work (parsing, pricing, resolving codes to ids) is done before
the clock starts: what is timed is the round trips and the commits. A sale is one statement in
autocommit mode (one implicit transaction: data-modifying CTEs), so one round trip a sale.
Returns and requests that do not price as sales are left out (the large shape has neither).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import make_url

from domain.errors import Rejected
from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.request import Kind, parse_request

SALE = """
WITH s AS (
    INSERT INTO sales (company_id, request_id, fingerprint, transaction_number, kind, outlet_id, channel,
                       occurred_at, cashier_id, customer_id, subtotal, tax, rounding_adjustment, total,
                       tendered, change_due)
    VALUES (%(company_id)s, %(request_id)s, %(fingerprint)s, 'REF-' || nextval('sale_number_seq'), 'sale',
            %(outlet_id)s, %(channel)s, %(occurred_at)s, %(cashier_id)s, %(customer_id)s, %(subtotal)s,
            %(tax)s, %(rounding)s, %(total)s, %(tendered)s, %(change_due)s)
    RETURNING id
), lines AS (
    INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity, unit_price, discount,
                            amount, gst_rate, tax, gst_category)
    SELECT s.id, l.* FROM s, unnest(%(line_nos)s::integer[], %(product_ids)s::integer[], %(skus)s::text[],
        %(names)s::text[], %(quantities)s::numeric[], %(unit_prices)s::numeric[], %(discounts)s::numeric[],
        %(amounts)s::numeric[], %(gst_rates)s::numeric[], %(taxes)s::numeric[], %(gst_categories)s::text[]) AS l
), tenders AS (
    INSERT INTO tenders (sale_id, method, amount, reference)
    SELECT s.id, t.* FROM s, unnest(%(methods)s::text[], %(tender_amounts)s::numeric[], %(refs)s::text[]) AS t
), movements AS (
    INSERT INTO stock_movements (outlet_id, product_id, kind, quantity, sale_id)
    SELECT %(outlet_id)s, m.product_id, 'SALE', -m.quantity, s.id
    FROM s, unnest(%(stock_ids)s::integer[], %(stock_quantities)s::numeric[]) AS m(product_id, quantity)
)
INSERT INTO stock_levels AS level (outlet_id, product_id, on_hand)
SELECT %(outlet_id)s, m.product_id, -m.quantity
FROM unnest(%(stock_ids)s::integer[], %(stock_quantities)s::numeric[]) AS m(product_id, quantity)
ORDER BY m.product_id
ON CONFLICT (outlet_id, product_id) DO UPDATE SET on_hand = level.on_hand + EXCLUDED.on_hand
"""


@dataclass(frozen=True)
class ReferenceRun:
    sales: int
    left_out: int
    seconds: float
    connections: int

    @property
    def rate(self) -> float:
        return self.sales / self.seconds if self.seconds else 0.0


def conninfo(db_url: str) -> str:
    """psycopg's own form of a SQLAlchemy URL."""
    return make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)


def prepare(db_url: str, path: Path) -> tuple[list[dict[str, Any]], int]:
    """Every sale of the file as the parameters of SALE, and how many requests were left out."""
    with psycopg.connect(conninfo(db_url)) as conn:
        ids = _master_ids(conn)
    prepared, left_out = [], 0
    with path.open() as lines:
        for text_line in lines:
            params = _sale_params(text_line, ids)
            if params is None:
                left_out += 1
            else:
                prepared.append(params)
    return prepared, left_out


def _master_ids(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    def pairs(query: str) -> dict[Any, Any]:
        return {row[0]: row[1:] if len(row) > 2 else row[1] for row in conn.execute(query)}

    return {
        "outlets": pairs(
            "SELECT o.code, o.id, o.company_id, c.prices_include_gst FROM outlets o JOIN companies c"
            " ON c.id = o.company_id"
        ),
        "users": pairs("SELECT company_id || ':' || username, id FROM users"),
        "customers": pairs("SELECT company_id || ':' || code, id FROM customers"),
        "products": {
            (row[0], row[1]): ProductInfo(row[2], row[1], row[3], row[4], row[5], row[6], row[7])
            for row in conn.execute(
                "SELECT company_id, sku, id, name, price, gst_rate, track_inventory,"
                " COALESCE(gst_category, CASE WHEN gst_rate > 0 THEN 'standard' ELSE 'zero_rated' END) FROM products"
            )
        },
    }


def _sale_params(text_line: str, ids: dict[str, Any]) -> dict[str, Any] | None:
    try:
        request = parse_request(text_line)
        outlet_id, company_id, prices_include_gst = ids["outlets"][request.outlet]
        products = {line.sku: ids["products"][(company_id, line.sku)] for line in request.lines}
        priced = price_sale(request, products, prices_include_gst)
    except (ValueError, KeyError, Rejected):
        return None
    if request.kind is not Kind.SALE:
        return None
    stock: dict[int, Decimal] = {}
    for line in priced.lines:
        if line.product.track_inventory:
            stock[line.product.id] = stock.get(line.product.id, Decimal(0)) + line.quantity
    return {
        "company_id": company_id,
        "request_id": request.request_id,
        "fingerprint": hashlib.sha256(text_line.encode()).hexdigest(),
        "outlet_id": outlet_id,
        "channel": request.channel.value,
        "occurred_at": request.occurred_at,
        "cashier_id": ids["users"].get(f"{company_id}:{request.cashier}"),
        "customer_id": ids["customers"].get(f"{company_id}:{request.customer}"),
        "subtotal": priced.subtotal,
        "tax": priced.tax,
        "rounding": priced.rounding_adjustment,
        "total": priced.total,
        "tendered": priced.tendered,
        "change_due": priced.change_due,
        "line_nos": [line.line_no for line in priced.lines],
        "product_ids": [line.product.id for line in priced.lines],
        "skus": [line.product.sku for line in priced.lines],
        "names": [line.product.name for line in priced.lines],
        "quantities": [line.quantity for line in priced.lines],
        "unit_prices": [line.unit_price for line in priced.lines],
        "discounts": [line.discount for line in priced.lines],
        "amounts": [line.amount for line in priced.lines],
        "gst_rates": [line.gst_rate for line in priced.lines],
        "taxes": [line.tax for line in priced.lines],
        "gst_categories": [line.product.gst_category for line in priced.lines],
        "methods": [t.method for t in priced.tenders],
        "tender_amounts": [t.amount for t in priced.tenders],
        "refs": [t.reference for t in priced.tenders],
        "stock_ids": list(stock),
        "stock_quantities": list(stock.values()),
    }


def _post_share(info: str, sales: list[dict[str, Any]], ready: Any) -> None:
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute("SELECT 1")
        ready.wait()
        for params in sales:
            for attempt in range(5):
                try:
                    conn.execute(SALE, params)
                    break
                except psycopg.errors.DeadlockDetected:  # never expected (stock rows go in order); retried anyway
                    if attempt == 4:
                        raise


def run(db_url: str, path: Path, connections: int) -> ReferenceRun:
    """Post the file's sales with `connections` processes; the wall time from all connected to all done."""
    sales, left_out = prepare(db_url, path)
    context = multiprocessing.get_context("fork")  # the children inherit the prepared sales
    ready = context.Barrier(connections + 1)
    children = [
        context.Process(target=_post_share, args=(conninfo(db_url), sales[n::connections], ready))
        for n in range(connections)
    ]
    for child in children:
        child.start()
    ready.wait()
    started = time.monotonic()
    for child in children:
        child.join()
    seconds = time.monotonic() - started
    failed = [child.exitcode for child in children if child.exitcode]
    if failed:
        raise RuntimeError(f"a reference process failed (exit codes {failed})")
    return ReferenceRun(len(sales), left_out, seconds, connections)
