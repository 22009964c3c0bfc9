"""Each master-data kind: its CSV columns, its natural key, and how one row becomes table values.

Rows name companies, outlets and products by code; they are resolved here against what the database
holds, so a bad reference is one more problem of its row, reported with all the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Numeric, String, select
from sqlalchemy.orm import Session

from domain.masterdata.fields import Fields, Record
from domain.posting.catalogue import product_rows
from domain.posting.request import MAX_UNIT_PRICE
from domain.tables import PRICE, QTY, RATE, Base, Company, Customer, Outlet, Product, StockLevel, Supplier, User
from domain.vocabulary import GstCategory, default_gst_category

Row = dict[str, Any]


class OutletRef(NamedTuple):
    id: int
    company_id: int


class ProductRef(NamedTuple):
    id: int
    track_inventory: bool


@dataclass(frozen=True)
class Refs:
    """What the database already holds that rows may name."""

    companies: dict[str, int]
    outlets: dict[str, OutletRef]
    products: dict[tuple[int, str], ProductRef]

    def company_code(self, company_id: int) -> str:
        return next(code for code, cid in self.companies.items() if cid == company_id)


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[Base]
    columns: tuple[str, ...]
    key: tuple[str, ...]
    key_column: str
    read: Callable[[Fields, Refs], Row]
    optional: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.optional)


def load_refs(session: Session, records: Iterable[Record]) -> Refs:
    companies = dict(session.execute(select(Company.code, Company.id)).all())
    outlets = {
        code: OutletRef(oid, cid)
        for code, oid, cid in session.execute(select(Outlet.code, Outlet.id, Outlet.company_id))
    }
    named = {outlets[r.cells["outlet"]].company_id for r in records if r.cells.get("outlet", "") in outlets}
    products = {
        (product.company_id, product.sku): ProductRef(product.id, product.track_inventory)
        for product in product_rows(session, named)
    }
    return Refs(companies, outlets, products)


def _length(model: type[Base], column: str) -> int | None:
    kind = model.__table__.c[column].type
    return kind.length if isinstance(kind, String) else None


def _text(f: Fields, model: type[Base], column: str, *, required: bool = True) -> str:
    return f.text(column, _length(model, column), required=required)


def _required(f: Fields, column: str, kind: Numeric[Decimal], most: Decimal | None = None) -> Decimal | None:
    value = f.decimal(column, kind, most=most)
    if value is None and not f.cells[column]:
        f.fail(column, "is required")
    return value


def _company_id(f: Fields, refs: Refs) -> int | None:
    code = f.text("company", None)
    if code and code not in refs.companies:
        f.fail("company", f"unknown company {code!r}")
    return refs.companies.get(code)


def _company(f: Fields, refs: Refs) -> Row:
    row: Row = {
        "code": _text(f, Company, "code"),
        "name": _text(f, Company, "name"),
        "uen": _text(f, Company, "uen"),
        "gst_registration_number": _text(f, Company, "gst_registration_number", required=False) or None,
        "prices_include_gst": f.boolean("prices_include_gst", default=True),
    }
    if f.has("currency"):  # left out of the file: a new company gets SGD, an existing one keeps its own
        row["currency"] = (f.text("currency", None, required=False) or "SGD").upper()
        if not re.fullmatch("[A-Z]{3}", row["currency"]):
            f.fail("currency", f"must be a 3-letter ISO 4217 code ({f.cells['currency']!r})")
    return row


def _outlet(f: Fields, refs: Refs) -> Row:
    code, company_id = _text(f, Outlet, "code"), _company_id(f, refs)
    known = refs.outlets.get(code)
    # Its sales, stock and reorder suggestions belong to the company it had: it cannot move.
    if known and company_id is not None and known.company_id != company_id:
        f.fail("company", f"outlet {code!r} belongs to company {refs.company_code(known.company_id)!r}")
    address = f.lines("address", None)  # spans lines, as a customer's may
    return {"code": code, "company_id": company_id, "name": _text(f, Outlet, "name"), "address": address}


def _user(f: Fields, refs: Refs) -> Row:
    return {
        "company_id": _company_id(f, refs),
        "username": _text(f, User, "username"),
        "full_name": _text(f, User, "full_name", required=False),
    }


def _product(f: Fields, refs: Refs) -> Row:
    row: Row = {
        "company_id": _company_id(f, refs),
        "sku": _text(f, Product, "sku"),
        "name": _text(f, Product, "name"),
        "price": _required(f, "price", PRICE, most=MAX_UNIT_PRICE),
        "gst_rate": _gst_rate(f),
        "cost": f.decimal("cost", PRICE, most=MAX_UNIT_PRICE),
        "track_inventory": f.boolean("track_inventory", default=True),
        "reorder_point": f.decimal("reorder_point", QTY, most=MAX_STOCK),
        "reorder_target": f.decimal("reorder_target", QTY, most=MAX_STOCK),
        "supplier": f.text("supplier", _length(Supplier, "name"), required=False) or None,
    }
    row["gst_category"] = _gst_category(f, row["gst_rate"])
    point, target = row["reorder_point"], row["reorder_target"]
    if point is not None and target is not None and target < point:
        f.fail("reorder_target", f"is below reorder_point ({target} < {point})")
    return row


def _gst_rate(f: Fields) -> Decimal | None:
    rate = f.decimal("gst_rate", RATE)
    if rate is not None and rate >= 100:
        f.fail("gst_rate", f"must be below 100 ({rate})")
    return Decimal("9.00") if rate is None and not f.cells["gst_rate"] else rate


def _gst_category(f: Fields, rate: Decimal | None) -> str:
    """The cell, or when blank (or the column absent) the default for the row's rate."""
    raw = f.text("gst_category", None, required=False).lower()
    if not raw:
        return default_gst_category(rate).value
    if raw not in set(GstCategory):
        f.fail("gst_category", f"must be one of {', '.join(GstCategory)} ({raw!r})")
    return raw


def _customer(f: Fields, refs: Refs) -> Row:
    row: Row = {
        "company_id": _company_id(f, refs),
        "code": _text(f, Customer, "code"),
        "name": _text(f, Customer, "name", required=False),
        "email": _text(f, Customer, "email", required=False) or None,
    }
    if f.has("address"):  # left out of the file: an existing customer keeps the address it has
        row["address"] = f.lines("address", _length(Customer, "address")) or None
    return row


def _stock(f: Fields, refs: Refs) -> Row:
    code, sku = f.text("outlet", None), f.text("sku", None)
    outlet = refs.outlets.get(code)
    product = refs.products.get((outlet.company_id, sku)) if outlet else None
    if code and not outlet:
        f.fail("outlet", f"unknown outlet {code!r}")
    elif outlet and sku and not product:
        f.fail("sku", f"unknown sku {sku!r} for company {refs.company_code(outlet.company_id)!r}")
    elif product and not product.track_inventory:
        f.fail("sku", f"product {sku!r} does not track inventory")
    # Negative is allowed: a till may oversell (policy ALLOW), and an export must import back.
    quantity = f.decimal("quantity", QTY, negative=True, most=MAX_STOCK)
    if quantity is None and not f.cells["quantity"]:
        f.fail("quantity", "is required")
    return {
        "outlet_id": outlet.id if outlet else None,
        "product_id": product.id if product else None,
        "quantity": quantity,
    }


# On hand, reorder points and targets: with a sale moving at most 500 lines x 1,000,000 units (the
# intake bounds), on hand and the reorder quantities derived from it stay far inside QTY (< 10^11).
MAX_STOCK = Decimal(10**9)

SPECS = {
    spec.name: spec
    for spec in (
        Kind(
            "companies",
            Company,
            ("code", "name", "uen", "gst_registration_number", "prices_include_gst", "currency"),
            ("code",),
            "code",
            _company,
            optional=("currency",),
        ),
        Kind("outlets", Outlet, ("code", "company", "name", "address"), ("code",), "code", _outlet),
        Kind("users", User, ("company", "username", "full_name"), ("company_id", "username"), "username", _user),
        Kind(
            "products",
            Product,
            (
                "company",
                "sku",
                "name",
                "price",
                "gst_rate",
                "cost",
                "track_inventory",
                "reorder_point",
                "reorder_target",
                "supplier",
                "gst_category",
            ),
            ("company_id", "sku"),
            "sku",
            _product,
            optional=("gst_category",),
        ),
        Kind(
            "customers",
            Customer,
            ("company", "code", "name", "email", "address"),
            ("company_id", "code"),
            "code",
            _customer,
            optional=("address",),
        ),
        Kind("stock", StockLevel, ("outlet", "sku", "quantity"), ("outlet_id", "product_id"), "sku", _stock),
    )
}
