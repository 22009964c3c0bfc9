"""Master data in and out of CSV files (../shared/CLI.md, "Master data CSV columns").

An import checks every row before it writes anything: one bad row fails the whole file, with every
problem listed by line, so nothing is ever half-imported. Then it upserts by natural key in chunks of
set-based statements, since a shop's catalogue can hold 100,000 products. The caller owns the transaction.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO, TypeVar

from sqlalchemy import Executable, Table, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.errors import ImportFailed
from domain.masterdata.fields import Fields, Problem, Record, read_records
from domain.masterdata.rows import SPECS, Kind, Row, load_refs
from domain.posting.catalogue import effective_gst_category
from domain.posting.stock import MovementKind, move_stock
from domain.tables import Base, Company, Customer, Outlet, Product, StockLevel, Supplier, User

KINDS = ("companies", "outlets", "users", "products", "customers", "stock")
CHUNK = 1000  # rows per statement: well under PostgreSQL's 65,535 bind parameters

T = TypeVar("T")


@dataclass(frozen=True)
class ImportReport:
    """What an import did. `updated` counts rows whose values changed: an identical row counts in neither.

    For stock, `inserted` counts the first stock of a product at an outlet, `updated` a changed on hand.
    """

    kind: str
    rows: int
    inserted: int
    updated: int


def import_csv(session: Session, kind: str, stream: TextIO) -> ImportReport:
    """Upsert the file's rows by natural key, or raise `ImportFailed` listing every bad row."""
    spec = _spec(kind)
    records, problems = read_records(stream, spec.required, spec.optional)
    rows = _checked(session, spec, records, problems)
    if kind == "stock":
        inserted, updated = _set_stock(session, rows)
    else:
        inserted, updated = _upsert(session, spec, _with_supplier_ids(session, rows) if kind == "products" else rows)
    return ImportReport(kind, len(rows), inserted, updated)


def export_csv(session: Session, kind: str, stream: TextIO) -> None:
    """Write every row of `kind` with the import's columns, so the file imports back to the same state."""
    spec = _spec(kind)
    writer = csv.writer(stream)
    writer.writerow(spec.columns)
    for row in session.execute(_EXPORTS[kind].execution_options(yield_per=CHUNK)):
        writer.writerow(_cell(value) for value in row)


def _spec(kind: str) -> Kind:
    if kind not in SPECS:
        raise ValueError(f"unknown master data kind {kind!r} (expected one of {', '.join(KINDS)})")
    return SPECS[kind]


def _checked(session: Session, spec: Kind, records: list[Record], problems: list[Problem]) -> list[Row]:
    refs = load_refs(session, records)
    problems = list(problems)
    first_seen: dict[tuple[Any, ...], int] = {}
    rows = []
    for record in records:
        fields = Fields(record)
        row = spec.read(fields, refs)
        key = tuple(row[column] for column in spec.key)
        if key in first_seen:
            cell = record.cells[spec.key_column]
            fields.fail(spec.key_column, f"{cell!r} already appears on line {first_seen[key]}")
        elif None not in key and "" not in key:
            first_seen[key] = record.line
        problems.extend((record.line, problem) for problem in fields.problems)
        rows.append(row)
    if problems:
        raise ImportFailed(spec.name, sorted(problems, key=lambda p: p[0]))
    return rows


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _upsert(session: Session, spec: Kind, rows: list[Row]) -> tuple[int, int]:
    if not rows:
        return 0, 0
    table = Base.metadata.tables[spec.model.__tablename__]
    existing = _existing_keys(session, table, spec.key, rows)
    changing = [column for column in rows[0] if column not in spec.key]
    values = pg_insert(table)
    upsert = values.on_conflict_do_update(
        index_elements=list(spec.key),
        set_={column: values.excluded[column] for column in changing},
        # An unchanged row is not rewritten, so it is neither counted nor left behind as a dead tuple.
        where=tuple_(*(table.c[c] for c in changing)).is_distinct_from(tuple_(*(values.excluded[c] for c in changing))),
    ).returning(*(table.c[k] for k in spec.key))
    written = [tuple(key) for chunk in _chunks(rows) for key in session.execute(upsert, list(chunk))]
    updated = sum(1 for key in written if key in existing)
    return len(written) - updated, updated


def _existing_keys(session: Session, table: Table, key: Sequence[str], rows: list[Row]) -> set[tuple[Any, ...]]:
    query = select(*(table.c[k] for k in key))
    if "company_id" in key:
        query = query.where(table.c.company_id.in_({row["company_id"] for row in rows}))
    return {tuple(found) for found in session.execute(query)}


def _with_supplier_ids(session: Session, rows: list[Row]) -> list[Row]:
    """Swap each product's supplier name for the id of that company's supplier, adding new suppliers."""
    wanted = sorted({(row["company_id"], row["supplier"]) for row in rows if row["supplier"]})
    for chunk in _chunks(wanted):
        session.execute(
            pg_insert(Supplier).values([{"company_id": c, "name": n} for c, n in chunk]).on_conflict_do_nothing()
        )
    ids = {
        (company_id, name): sid
        for sid, company_id, name in session.execute(
            select(Supplier.id, Supplier.company_id, Supplier.name).where(
                Supplier.company_id.in_({company_id for company_id, _ in wanted})
            )
        )
    }
    return [_without(row, "supplier") | {"supplier_id": ids.get((row["company_id"], row["supplier"]))} for row in rows]


def _without(row: Row, column: str) -> Row:
    return {k: v for k, v in row.items() if k != column}


def _set_stock(session: Session, rows: list[Row]) -> tuple[int, int]:
    """Bring each (outlet, product) on hand to the row's quantity with one ADJUSTMENT movement of the difference."""
    wanted: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for row in rows:
        wanted[row["outlet_id"]][row["product_id"]] = row["quantity"]
    inserted = updated = 0
    # Outlets, then products, in ascending id: the ledger's one lock order (domain/posting/stock.py).
    for outlet_id in sorted(wanted):
        for product_ids in _chunks(sorted(wanted[outlet_id])):
            current = _locked_on_hand(session, outlet_id, product_ids)
            changes = {pid: wanted[outlet_id][pid] - current.get(pid, Decimal(0)) for pid in product_ids}
            move_stock(session, outlet_id, changes, MovementKind.ADJUSTMENT)
            inserted += sum(1 for pid, change in changes.items() if change and pid not in current)
            updated += sum(1 for pid, change in changes.items() if change and pid in current)
    return inserted, updated


def _locked_on_hand(session: Session, outlet_id: int, product_ids: Sequence[int]) -> dict[int, Decimal]:
    # Locked before reading, so a sale posting meanwhile cannot make the difference stale.
    return dict(
        session.execute(
            select(StockLevel.product_id, StockLevel.on_hand)
            .where(StockLevel.outlet_id == outlet_id, StockLevel.product_id.in_(product_ids))
            .order_by(StockLevel.product_id)
            .with_for_update()
        ).all()
    )


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


_EXPORTS: dict[str, Executable] = {
    "companies": select(
        Company.code,
        Company.name,
        Company.uen,
        Company.gst_registration_number,
        Company.prices_include_gst,
        Company.currency,
    ).order_by(Company.code),
    "outlets": select(Outlet.code, Company.code, Outlet.name, Outlet.address)
    .join(Company, Company.id == Outlet.company_id)
    .order_by(Outlet.code),
    "users": select(Company.code, User.username, User.full_name)
    .join(Company, Company.id == User.company_id)
    .order_by(Company.code, User.username),
    "products": select(
        Company.code,
        Product.sku,
        Product.name,
        Product.price,
        Product.gst_rate,
        Product.cost,
        Product.track_inventory,
        Product.reorder_point,
        Product.reorder_target,
        Supplier.name,
        effective_gst_category(),
    )
    .join(Company, Company.id == Product.company_id)
    .outerjoin(Supplier, Supplier.id == Product.supplier_id)
    .order_by(Company.code, Product.sku),
    "customers": select(Company.code, Customer.code, Customer.name, Customer.email, Customer.address)
    .join(Company, Company.id == Customer.company_id)
    .order_by(Company.code, Customer.code),
    # Only products that track inventory: the import refuses stock for the others.
    "stock": select(Outlet.code, Product.sku, StockLevel.on_hand)
    .join(Outlet, Outlet.id == StockLevel.outlet_id)
    .join(Product, Product.id == StockLevel.product_id)
    .where(Product.track_inventory)
    .order_by(Outlet.code, Product.sku),
}
