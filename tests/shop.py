"""Test builders: a small shop's master data, and sale requests in the wire format."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from domain.posting.decision import Decision
from domain.posting.intake import receive
from domain.posting.stock import move_stock
from domain.tables import Company, Customer, Outlet, Product, Supplier, User
from services.posting import post_request


@dataclass
class Shop:
    company_id: int
    outlet_ids: dict[str, int]
    product_ids: dict[str, int]


def make_shop(
    session: Session,
    code: str = "ACME",
    outlets: tuple[str, ...] = ("ORCH", "WEB"),
    prices_include_gst: bool = True,
    products: dict[str, dict[str, Any]] | None = None,
    stock: dict[str, int] | None = None,
    **company: Any,
) -> Shop:
    company_id = session.scalar(
        insert(Company)
        .values(
            code=code,
            name=f"{code} Pte Ltd",
            uen="201912345K",
            gst_registration_number="M90312345X",
            prices_include_gst=prices_include_gst,
            **company,
        )
        .returning(Company.id)
    )
    assert company_id is not None
    supplier_id = session.scalar(
        insert(Supplier).values(company_id=company_id, name=f"{code} Supplies").returning(Supplier.id)
    )
    outlet_ids = {}
    for oc in outlets:
        outlet_code = oc if code == "ACME" else f"{code}-{oc}"
        outlet_ids[oc] = session.scalar(
            insert(Outlet)
            .values(
                code=outlet_code,
                company_id=company_id,
                name=f"{code} {oc}",
                address=f"1 {oc} Road, Singapore 238801",
            )
            .returning(Outlet.id)
        )
    session.execute(insert(User).values(company_id=company_id, username="amy", full_name="Amy Tan"))
    session.execute(insert(Customer).values(company_id=company_id, code="C001", name="Ben Lim"))
    catalogue = (
        products
        if products is not None
        else {
            "TEA": {"price": Decimal("4.50")},
            "MUG": {"price": Decimal("12.90"), "reorder_point": Decimal(5), "reorder_target": Decimal(20)},
            "BOOK": {"price": Decimal("20.00"), "gst_rate": Decimal(0)},
            "GIFTCARD": {"price": Decimal("50.00"), "track_inventory": False},
        }
    )
    product_ids = {}
    for sku, fields in catalogue.items():
        product_ids[sku] = session.scalar(
            insert(Product)
            .values(
                company_id=company_id,
                sku=sku,
                name=fields.get("name", sku.title()),
                supplier_id=supplier_id,
                **{k: v for k, v in fields.items() if k != "name"},
            )
            .returning(Product.id)
        )
    for sku, qty in (stock or {}).items():
        for outlet_id in outlet_ids.values():
            move_stock(session, outlet_id, {product_ids[sku]: Decimal(qty)}, "ADJUSTMENT")
    return Shop(company_id, outlet_ids, product_ids)


def sale(
    request_id: str, lines: list[tuple[str, str] | tuple[str, str, str]], tenders: list[tuple[str, str]], **fields: Any
) -> dict[str, Any]:
    """A request: lines as (sku, quantity[, unit_price]), tenders as (method, amount)."""
    body: dict[str, Any] = {
        "request_id": request_id,
        "outlet": "ORCH",
        "occurred_at": "2025-03-01T10:15:00+08:00",
        "cashier": "amy",
        "lines": [dict(zip(("sku", "quantity", "unit_price"), line, strict=False)) for line in lines],
        "tenders": [{"method": m, "amount": a} for m, a in tenders],
    }
    body.update(fields)
    return body


def submit_and_post(sessions: Any, payload: dict[str, Any]) -> Decision:
    """Receive and post one request through the posting use case; `sessions` is the conftest database."""
    return post_request(sessions, receive_one(sessions, payload))


def on_hand(session: Session, outlet_id: int, product_id: int) -> Decimal:
    from domain.tables import StockLevel

    return session.scalar(
        select(StockLevel.on_hand).where(StockLevel.outlet_id == outlet_id, StockLevel.product_id == product_id)
    ) or Decimal(0)


# Helpers for reading the ledger back in tests (appended; the builders above are unchanged).

LEDGER_TABLES = (
    "stock_levels",
    "stock_movements",
    "stock_discrepancies",
    "sales",
    "sale_lines",
    "tenders",
    "follow_ups",
    "loyalty_entries",
)


def row_counts(session: Session, tables: tuple[str, ...] = LEDGER_TABLES) -> dict[str, int]:
    from sqlalchemy import text

    return {table: session.scalar(text(f"SELECT count(*) FROM {table}")) or 0 for table in tables}


def stock_levels(session: Session) -> dict[tuple[int, int], Decimal]:
    """On hand by (outlet_id, product_id), for every stock row."""
    from domain.tables import StockLevel

    rows = session.execute(select(StockLevel.outlet_id, StockLevel.product_id, StockLevel.on_hand))
    return {(outlet_id, product_id): qty for outlet_id, product_id, qty in rows}


def stock_drift(session: Session) -> dict[tuple[int, int], tuple[Decimal, Decimal]]:
    """(on hand, sum of movements) for every (outlet, product) where the two differ; empty when the books hold."""
    from sqlalchemy import func

    from domain.tables import StockMovement

    moved = {
        (outlet_id, product_id): total
        for outlet_id, product_id, total in session.execute(
            select(StockMovement.outlet_id, StockMovement.product_id, func.sum(StockMovement.quantity)).group_by(
                StockMovement.outlet_id, StockMovement.product_id
            )
        )
    }
    held = stock_levels(session)
    return {
        key: (held.get(key, Decimal(0)), moved.get(key, Decimal(0)))
        for key in held.keys() | moved.keys()
        if held.get(key, Decimal(0)) != moved.get(key, Decimal(0))
    }


def intake_row(session: Session, intake_id: int) -> Any:
    """The recorded intake row (outcome, reason, message, details, fingerprints, sale_id, attempts)."""
    from domain.tables import SaleRequestRow

    return session.execute(select(SaleRequestRow).where(SaleRequestRow.id == intake_id)).scalar_one()


def receive_one(sessions: sessionmaker[Session], payload: Any) -> int:
    """Record one payload as received (PENDING) and return its intake id, without posting it."""
    with sessions.begin() as session:
        (intake_id,) = receive(session, [payload])
    return intake_id
