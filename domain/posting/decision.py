"""Posting a sale request: THE place where a sale enters the ledger.

`post_request` is the use case. One transaction locks the request, decides its single outcome
(POSTED, DUPLICATE, CONFLICT or REJECTED) and records it together with the sale. When a rule fails
after the sale began to be written (stock, say), that transaction rolls back as a whole and the
rejection is recorded in a transaction of its own: a rejected sale leaves no trace anywhere.

Two submissions of one request_id cannot both post: the sale's unique (company, request_id) key
makes the second wait for the first and then find it (a DUPLICATE or CONFLICT).

Lock order, always: intake row -> original sale (returns; FOR NO KEY UPDATE, so it never blocks the
foreign-key checks of follow-ups) -> sale key -> stock rows by product id (domain/stock.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import Connection, Text, bindparam, cast, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from domain.db import in_transaction
from domain.errors import (
    InsufficientStock,
    InternalError,
    NotFound,
    OriginalStillPending,
    Rejected,
    Shortfall,
    UnknownCashier,
    UnknownCustomer,
    UnknownOutlet,
)
from domain.posting.pricing import PricedSale, ProductInfo, price_sale
from domain.posting.refunds import refunds_for
from domain.posting.request import Kind, SaleRequest, request_from
from domain.posting.returns import original_of
from domain.posting.stock import move_stock
from domain.tables import (
    Company,
    Customer,
    Outlet,
    Product,
    Sale,
    SaleRequestRow,
    StockDiscrepancy,
    User,
    core,
    sale_number,
)

FOLLOW_UPS = ("REORDER", "LOYALTY", "RECEIPT")


@dataclass(frozen=True)
class Posted:
    """What one posting attempt decided; `sale_id` is set for POSTED and DUPLICATE."""

    intake_id: int
    outcome: str
    sale_id: int | None = None
    newly_posted: bool = False


def post_request(sessions: sessionmaker[Session], intake_id: int, catalogue: Catalogue | None = None) -> Posted:
    """Post one received request (retried on deadlock or lost connection).

    Safe to call twice or in parallel: a request whose outcome is already recorded is left as is.
    Outcome PENDING means "not decided yet": a return whose original sale is still in flight.
    A `catalogue` shared by the requests of one chunk reads each product once for the chunk.
    """
    for _ in range(3):
        try:
            return in_transaction(sessions, partial(decide, intake_id=intake_id, catalogue=catalogue))
        except _Undo as undo:  # the sale's transaction rolled back; now record why, on its own
            return in_transaction(sessions, partial(_record_rejection, intake_id=intake_id, rejection=undo.rejection))
        except _PostedMeanwhile:
            continue  # another submission of this request_id committed first: decide again, and see it
    raise AssertionError(f"request {intake_id}: its sale key kept changing under it")


def record_failure(sessions: sessionmaker[Session], intake_id: int, error: BaseException) -> Posted:
    """A request whose posting raised something unforeseen ends REJECTED / INTERNAL_ERROR, in a
    transaction of its own, so one poisoned request never holds back the rest of its batch.
    Replay posts it again once the cause is mended."""
    rejection = InternalError(f"posting failed unexpectedly ({type(error).__name__}: {error})"[:2000])
    return in_transaction(sessions, partial(_record_rejection, intake_id=intake_id, rejection=rejection))


class _Undo(Exception):
    """A rule failed after the sale began to be written: roll the transaction back, then record it."""

    def __init__(self, rejection: Rejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


class _PostedMeanwhile(Exception):
    """The sale key was taken by a submission that committed while this one was deciding."""


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
            for info in _read_products(conn, company_id, missing):
                self._known[(company_id, info.sku)] = info
        return {sku: self._known[(company_id, sku)] for sku in skus if (company_id, sku) in self._known}


def decide(session: Session, intake_id: int, catalogue: Catalogue | None = None) -> Posted:
    conn = session.connection()  # Core on the session's connection: the ORM adds nothing here
    row = conn.execute(_INTAKE_WITH_OUTLET, {"intake_id": intake_id}).one_or_none()
    if row is None:
        raise NotFound("sale request", str(intake_id))
    if row.outcome != "PENDING":
        return Posted(intake_id, row.outcome, row.sale_id)
    try:
        request = request_from(row.payload)
        if row.outlet_id is None:
            raise UnknownOutlet(f"outlet {request.outlet!r} is not in the master data", outlet=request.outlet)
        outlet = _Outlet(
            row.outlet_id, request.outlet, row.company_id, row.prices_include_gst, row.oversell_pos, row.oversell_web
        )
        people = _people(request, row.cashier_id, row.customer_id)
        fingerprint = request.fingerprint()
        if row.existing_sale_id is not None:
            outcome = "DUPLICATE" if row.existing_fingerprint == fingerprint else "CONFLICT"
            _record(
                conn,
                intake_id,
                outcome,
                sale_id=row.existing_sale_id,
                existing_fingerprint=row.existing_fingerprint,
                company_id=outlet.company_id,
                fingerprint=fingerprint,
            )
            return Posted(intake_id, outcome, row.existing_sale_id)
        sale_id = write_sale(conn, outlet, request, fingerprint, people, row.batch_id, catalogue or Catalogue())
    except OriginalStillPending:
        return Posted(intake_id, "PENDING")  # nothing recorded: the caller tries it again after the original
    except Rejected as rejection:
        _record(conn, intake_id, "REJECTED", **_rejection_values(rejection, row.line_no))
        return Posted(intake_id, "REJECTED")
    _record(conn, intake_id, "POSTED", sale_id=sale_id, company_id=outlet.company_id)
    return Posted(intake_id, "POSTED", sale_id, newly_posted=True)


_INTAKE_WITH_OUTLET = (
    select(
        SaleRequestRow.payload,
        SaleRequestRow.outcome,
        SaleRequestRow.sale_id,
        SaleRequestRow.line_no,
        SaleRequestRow.batch_id,
        Outlet.id.label("outlet_id"),
        Outlet.company_id,
        Company.prices_include_gst,
        Company.oversell_pos,
        Company.oversell_web,
        Sale.id.label("existing_sale_id"),
        Sale.fingerprint.label("existing_fingerprint"),
        User.id.label("cashier_id"),
        Customer.id.label("customer_id"),
    )
    .select_from(SaleRequestRow)
    .outerjoin(Outlet, Outlet.code == SaleRequestRow.payload["outlet"].astext)
    .outerjoin(Company, Company.id == Outlet.company_id)
    .outerjoin(
        User, (User.company_id == Outlet.company_id) & (User.username == SaleRequestRow.payload["cashier"].astext)
    )
    .outerjoin(
        Customer,
        (Customer.company_id == Outlet.company_id) & (Customer.code == SaleRequestRow.payload["customer"].astext),
    )
    # A sale already posted under this request_id (a sale posted after this statement began is
    # caught by the sale key's ON CONFLICT in _insert_sale instead).
    .outerjoin(Sale, (Sale.company_id == Outlet.company_id) & (Sale.request_id == SaleRequestRow.request_id))
    .where(SaleRequestRow.id == bindparam("intake_id"))
    .with_for_update(of=SaleRequestRow)
)


def _record_rejection(session: Session, intake_id: int, rejection: Rejected) -> Posted:
    """Record a rejection in a transaction of its own, unless another attempt decided meanwhile."""
    conn = session.connection()
    row = conn.execute(_INTAKE_WITH_OUTLET, {"intake_id": intake_id}).one()
    if row.outcome != "PENDING":
        return Posted(intake_id, row.outcome, row.sale_id)
    _record(conn, intake_id, "REJECTED", **_rejection_values(rejection, row.line_no))
    return Posted(intake_id, "REJECTED")


def _rejection_values(rejection: Rejected, line_no: int | None) -> dict[str, Any]:
    where = f"line {line_no}: " if line_no is not None else ""
    return {"reason": rejection.code, "message": where + rejection.message, "details": rejection.details or None}


def _record(conn: Connection, intake_id: int, outcome: str, **values: Any) -> None:
    message = values.pop("message", None) or _message(outcome)
    details = values.pop("details", None)
    if details:  # none: the column keeps what replay left in it (its history)
        values["details"] = _with_history(details)
    conn.execute(
        update(SaleRequestRow)
        .where(SaleRequestRow.id == intake_id)
        .values(
            outcome=outcome, message=message, processed_at=func.now(), attempts=SaleRequestRow.attempts + 1, **values
        )
    )


def _with_history(details: dict[str, Any]) -> Any:
    """This attempt's details, keeping what earlier attempts left under `previous` (replay history).
    Replay leaves nothing but `previous` in the column, so an outcome without details keeps it as is."""
    kept = func.jsonb_strip_nulls(func.jsonb_build_object("previous", SaleRequestRow.details["previous"]))
    return kept.op("||")(cast(details, JSONB))


def _message(outcome: str) -> str:
    return {
        "POSTED": "posted",
        "DUPLICATE": "already posted with the same content; nothing new recorded",
        "CONFLICT": "this request_id was already posted with different content; nothing new recorded",
    }[outcome]


@dataclass(frozen=True)
class _Outlet:
    id: int
    code: str
    company_id: int
    prices_include_gst: bool
    oversell_pos: str
    oversell_web: str


def write_sale(
    conn: Connection,
    outlet: _Outlet,
    request: SaleRequest,
    fingerprint: str,
    people: tuple[int | None, int | None],
    batch_id: int | None,
    catalogue: Catalogue,
) -> int:
    """Write sale, lines, tenders, stock movements and the follow-up outbox; raise on any rejection.

    Every rule is checked before the first write except stock, which is known only once its rows
    are locked: a stock rejection comes out as _Undo, so the caller rolls the transaction back.
    """
    company_id = outlet.company_id
    products = catalogue.products(conn, company_id, {line.sku for line in request.lines})
    cashier_id, customer_id = people
    original_id, refunds, refund_limit = None, None, None
    if request.kind is Kind.RETURN and request.original_request_id:
        # Priced from what the sale took, never from the catalogue; its points are its member's.
        original = original_of(conn, company_id, request, customer_id)
        original_id, customer_id = original.id, original.customer_id
        refunds, refund_limit = refunds_for(request.lines, original.sold), original.left_to_refund
    priced = price_sale(request, products, outlet.prices_include_gst, refunds, refund_limit)
    sale_id = _insert_sale(conn, outlet, request, priced, fingerprint, cashier_id, customer_id, original_id, batch_id)
    try:
        _apply_stock(conn, outlet, request, priced, sale_id)
    except Rejected as rejection:
        raise _Undo(rejection) from None
    return sale_id


def _read_products(conn: Connection, company_id: int, skus: set[str]) -> list[ProductInfo]:
    rows = conn.execute(
        select(Product.id, Product.sku, Product.name, Product.price, Product.gst_rate, Product.track_inventory).where(
            Product.company_id == company_id, Product.sku.in_(skus)
        )
    )
    return [ProductInfo(*row) for row in rows]


def _people(request: SaleRequest, cashier_id: int | None, customer_id: int | None) -> tuple[int | None, int | None]:
    """The cashier's and customer's ids (read with the request, within its company); unknown ones reject."""
    if request.cashier is not None and cashier_id is None:
        raise UnknownCashier(f"cashier {request.cashier!r} is not a user of this company", cashier=request.cashier)
    if request.customer is not None and customer_id is None:
        raise UnknownCustomer(
            f"customer {request.customer!r} is not a customer of this company", customer=request.customer
        )
    return cashier_id, customer_id


def _insert_sale(
    conn: Connection,
    outlet: _Outlet,
    request: SaleRequest,
    priced: PricedSale,
    fingerprint: str,
    cashier_id: int | None,
    customer_id: int | None,
    original_id: int | None,
    batch_id: int | None,
) -> int:
    """The sale header, lines and tenders. The sale key (company, request_id) is claimed here: if a
    submission of the same request_id committed meanwhile, this one starts over and finds it."""
    number = literal(f"{outlet.code}-").concat(_eight_digits_or_more())
    sale_id: int | None = conn.execute(
        pg_insert(core(Sale))
        .values(
            company_id=outlet.company_id,
            request_id=request.request_id,
            fingerprint=fingerprint,
            transaction_number=number,
            kind=request.kind.value,
            original_sale_id=original_id,
            outlet_id=outlet.id,
            channel=request.channel.value,
            occurred_at=request.occurred_at,
            cashier_id=cashier_id,
            customer_id=customer_id,
            batch_id=batch_id,
            subtotal=priced.subtotal,
            tax=priced.tax,
            rounding_adjustment=priced.rounding_adjustment,
            total=priced.total,
            tendered=priced.tendered,
            change_due=priced.change_due,
            notes=request.notes,
        )
        .on_conflict_do_nothing(index_elements=["company_id", "request_id"])
        .returning(core(Sale).c.id)
    ).scalar_one_or_none()
    if sale_id is None:
        raise _PostedMeanwhile
    lines, tenders = priced.lines, priced.tenders
    conn.execute(
        SALE_BODY,
        {
            "sale_id": sale_id,
            "line_nos": [line.line_no for line in lines],
            "product_ids": [line.product.id for line in lines],
            "skus": [line.product.sku for line in lines],
            "descriptions": [line.product.name for line in lines],
            "quantities": [line.quantity for line in lines],
            "unit_prices": [line.unit_price for line in lines],
            "discounts": [line.discount for line in lines],
            "amounts": [line.amount for line in lines],
            "gst_rates": [line.gst_rate for line in lines],
            "taxes": [line.tax for line in lines],
            "methods": [t.method for t in tenders],
            "tender_amounts": [t.amount for t in tenders],
            "references": [t.reference for t in tenders],
            "follow_ups": list(FOLLOW_UPS),
        },
    )
    return sale_id


def _eight_digits_or_more() -> Any:
    """The next sale number, zero-padded to 8 digits and never cut: lpad() truncates a longer string,
    so past 99,999,999 it is padded to its own length (a BIGINT has at most 19 digits; an 80-character
    transaction number holds a 50-character outlet code, a dash and all of them)."""
    drawn = select(cast(sale_number.next_value(), Text).label("n")).subquery("drawn")
    return select(func.lpad(drawn.c.n, func.greatest(8, func.length(drawn.c.n)), "0")).scalar_subquery()


# A sale's lines, tenders and follow-up outbox rows, in one round trip (arrays, one element a row).
SALE_BODY = text("""
    WITH lines AS (
        INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity, unit_price, discount,
                                amount, gst_rate, tax)
        SELECT :sale_id, * FROM unnest(
            CAST(:line_nos AS integer[]), CAST(:product_ids AS integer[]), CAST(:skus AS text[]),
            CAST(:descriptions AS text[]), CAST(:quantities AS numeric[]), CAST(:unit_prices AS numeric[]),
            CAST(:discounts AS numeric[]), CAST(:amounts AS numeric[]), CAST(:gst_rates AS numeric[]),
            CAST(:taxes AS numeric[]))
    ), tenders AS (
        INSERT INTO tenders (sale_id, method, amount, reference)
        SELECT :sale_id, * FROM unnest(
            CAST(:methods AS text[]), CAST(:tender_amounts AS numeric[]), CAST(:references AS text[]))
    )
    INSERT INTO follow_ups (sale_id, kind) SELECT :sale_id, unnest(CAST(:follow_ups AS text[]))
""")


def _apply_stock(conn: Connection, outlet: _Outlet, request: SaleRequest, priced: PricedSale, sale_id: int) -> None:
    changes: dict[int, Decimal] = defaultdict(Decimal)
    skus: dict[int, str] = {}
    for line in priced.lines:
        if line.product.track_inventory:
            changes[line.product.id] -= line.quantity  # quantity is negative on a return
            skus[line.product.id] = line.product.sku
    kind = "RETURN" if request.kind is Kind.RETURN else "SALE"
    after = move_stock(conn, outlet.id, changes, kind, sale_id)
    below = {pid: on_hand for pid, on_hand in after.items() if on_hand < 0 and changes[pid] < 0}
    if not below:
        return
    policy = outlet.oversell_web if request.channel.value == "web" else outlet.oversell_pos
    if policy == "REJECT":
        raise InsufficientStock(
            [Shortfall(skus[pid], on_hand - changes[pid], -changes[pid]) for pid, on_hand in sorted(below.items())]
        )
    conn.execute(
        insert(core(StockDiscrepancy)),
        [
            {"sale_id": sale_id, "outlet_id": outlet.id, "product_id": pid, "on_hand_after": on_hand}
            for pid, on_hand in sorted(below.items())
        ],
    )
