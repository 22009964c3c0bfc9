"""Posting a sale request: THE place where a sale enters the ledger.

`post_request` is the use case: one transaction that locks the request, decides its single
outcome (POSTED, DUPLICATE, CONFLICT or REJECTED) and records it. The sale itself is written
inside a savepoint, so a rejection found half-way (stock, say) rolls back every row the sale
wrote and leaves only the REJECTED outcome.

Lock order, always: intake row -> request key (advisory) -> original sale (returns) -> stock rows
by product id (domain/stock.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Text, cast, func, insert, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.db import in_transaction
from domain.errors import (
    InsufficientStock,
    InternalError,
    NotFound,
    OriginalStillPending,
    Rejected,
    ReturnExceedsSale,
    Shortfall,
    UnknownCashier,
    UnknownCustomer,
    UnknownOriginal,
    UnknownOutlet,
)
from domain.pricing import PricedSale, ProductInfo, price_sale
from domain.requests import Kind, SaleRequest, parse_request
from domain.stock import move_stock
from domain.tables import (
    Company,
    Customer,
    FollowUp,
    Outlet,
    Product,
    Sale,
    SaleLine,
    SaleRequestRow,
    StockDiscrepancy,
    User,
    core,
    sale_number,
)
from domain.tables import Tender as TenderRow

FOLLOW_UPS = ("REORDER", "LOYALTY", "RECEIPT")


@dataclass(frozen=True)
class Posted:
    """What one posting attempt decided; `sale_id` is set for POSTED and DUPLICATE."""

    intake_id: int
    outcome: str
    sale_id: int | None = None
    newly_posted: bool = False


def post_request(sessions: sessionmaker[Session], intake_id: int) -> Posted:
    """Post one received request in its own transaction (retried on deadlock or lost connection).

    Safe to call twice or in parallel: a request whose outcome is already recorded is left as is.
    Outcome PENDING means "not decided yet": a return whose original sale is still in flight.
    """
    return in_transaction(sessions, lambda session: decide(session, intake_id))


def record_failure(sessions: sessionmaker[Session], intake_id: int, error: BaseException) -> Posted:
    """A request whose posting raised something unforeseen ends REJECTED / INTERNAL_ERROR, in a
    transaction of its own, so one poisoned request never holds back the rest of its batch.
    Replay posts it again once the cause is mended."""
    message = f"posting failed unexpectedly ({type(error).__name__}: {error})"[:2000]

    def work(session: Session) -> Posted:
        session.execute(
            update(SaleRequestRow)
            .where(SaleRequestRow.id == intake_id, SaleRequestRow.outcome == "PENDING")
            .values(
                outcome="REJECTED",
                reason=InternalError.code,
                message=message,
                processed_at=func.now(),
                attempts=SaleRequestRow.attempts + 1,
            )
        )
        return Posted(intake_id, "REJECTED")

    return in_transaction(sessions, work)


def decide(session: Session, intake_id: int) -> Posted:
    row = session.execute(
        select(SaleRequestRow.payload, SaleRequestRow.outcome, SaleRequestRow.sale_id, SaleRequestRow.line_no)
        .where(SaleRequestRow.id == intake_id)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound("sale request", str(intake_id))
    if row.outcome != "PENDING":
        return Posted(intake_id, row.outcome, row.sale_id)
    try:
        request = parse_request(row.payload)
        outlet = _outlet(session, request.outlet)
        _lock_request_key(session, outlet.company_id, request.request_id)
        fingerprint = request.fingerprint()
        existing = session.execute(
            select(Sale.id, Sale.fingerprint).where(
                Sale.company_id == outlet.company_id, Sale.request_id == request.request_id
            )
        ).one_or_none()
        if existing is not None:
            same = existing.fingerprint == fingerprint
            outcome = "DUPLICATE" if same else "CONFLICT"
            _record(
                session,
                intake_id,
                outcome,
                sale_id=existing.id,
                existing_fingerprint=existing.fingerprint,
                company_id=outlet.company_id,
                fingerprint=fingerprint,
            )
            return Posted(intake_id, outcome, existing.id)
        with session.begin_nested():
            sale_id = write_sale(session, outlet, request, fingerprint, intake_id)
    except OriginalStillPending:
        return Posted(intake_id, "PENDING")  # nothing recorded: the caller tries it again after the original
    except Rejected as rejection:
        where = f"line {row.line_no}: " if row.line_no is not None else ""
        _record(
            session,
            intake_id,
            "REJECTED",
            reason=rejection.code,
            message=where + rejection.message,
            details=rejection.details or None,
        )
        return Posted(intake_id, "REJECTED")
    _record(session, intake_id, "POSTED", sale_id=sale_id, company_id=outlet.company_id)
    return Posted(intake_id, "POSTED", sale_id, newly_posted=True)


def _record(session: Session, intake_id: int, outcome: str, **values: Any) -> None:
    message = values.pop("message", None) or _message(outcome)
    session.execute(
        update(SaleRequestRow)
        .where(SaleRequestRow.id == intake_id)
        .values(
            outcome=outcome, message=message, processed_at=func.now(), attempts=SaleRequestRow.attempts + 1, **values
        )
    )


def _message(outcome: str) -> str:
    return {
        "POSTED": "posted",
        "DUPLICATE": "already posted with the same content; nothing new recorded",
        "CONFLICT": "this request_id was already posted with different content; nothing new recorded",
    }[outcome]


def _lock_request_key(session: Session, company_id: int, request_id: str) -> None:
    """Two submissions of one request_id are decided one after the other, never side by side."""
    session.execute(select(func.pg_advisory_xact_lock(company_id, func.hashtext(request_id))))


@dataclass(frozen=True)
class _Outlet:
    id: int
    code: str
    company_id: int
    prices_include_gst: bool
    oversell_pos: str
    oversell_web: str


def _outlet(session: Session, code: str) -> _Outlet:
    found = session.execute(
        select(
            Outlet.id,
            Outlet.code,
            Outlet.company_id,
            Company.prices_include_gst,
            Company.oversell_pos,
            Company.oversell_web,
        )
        .join(Company, Company.id == Outlet.company_id)
        .where(Outlet.code == code)
    ).one_or_none()
    if found is None:
        raise UnknownOutlet(f"outlet {code!r} is not in the master data", outlet=code)
    return _Outlet(*found)


def write_sale(session: Session, outlet: _Outlet, request: SaleRequest, fingerprint: str, intake_id: int) -> int:
    """Write sale, lines, tenders, stock movements and the follow-up outbox; raise on any rejection."""
    company_id = outlet.company_id
    products = _products(session, company_id, {line.sku for line in request.lines})
    cashier_id = _cashier(session, company_id, request.cashier)
    customer_id = _customer(session, company_id, request.customer)
    original_id = None
    if request.kind is Kind.RETURN and request.original_request_id:
        original = _check_return(session, company_id, request)
        original_id, customer_id = original.id, customer_id or original.customer_id
        products = {sku: original.as_paid(p) for sku, p in products.items()}
    priced = price_sale(request, products, outlet.prices_include_gst)
    sale_id = _insert_sale(
        session, outlet, request, priced, fingerprint, cashier_id, customer_id, original_id, intake_id
    )
    _apply_stock(session, outlet, request, priced, sale_id)
    session.execute(insert(core(FollowUp)), [{"sale_id": sale_id, "kind": kind} for kind in FOLLOW_UPS])
    return sale_id


def _products(session: Session, company_id: int, skus: set[str]) -> dict[str, ProductInfo]:
    rows = session.execute(
        select(Product.id, Product.sku, Product.name, Product.price, Product.gst_rate, Product.track_inventory).where(
            Product.company_id == company_id, Product.sku.in_(skus)
        )
    )
    return {row.sku: ProductInfo(*row) for row in rows}


def _cashier(session: Session, company_id: int, username: str | None) -> int | None:
    if username is None:
        return None
    found = session.scalar(select(User.id).where(User.company_id == company_id, User.username == username))
    if found is None:
        raise UnknownCashier(f"cashier {username!r} is not a user of this company", cashier=username)
    return found


def _customer(session: Session, company_id: int, code: str | None) -> int | None:
    if code is None:
        return None
    found = session.scalar(select(Customer.id).where(Customer.company_id == company_id, Customer.code == code))
    if found is None:
        raise UnknownCustomer(f"customer {code!r} is not a customer of this company", customer=code)
    return found


@dataclass(frozen=True)
class _Original:
    """The sale a return gives goods back to, and what each of its SKUs was sold for."""

    id: int
    customer_id: int | None
    paid: dict[str, tuple[Decimal, Decimal]]  # sku -> (unit price actually paid, GST rate charged)

    def as_paid(self, product: ProductInfo) -> ProductInfo:
        """A refund is worth what was paid (after discounts) at the GST rate charged then, not today's."""
        if product.sku not in self.paid:
            return product
        price, rate = self.paid[product.sku]
        return replace(product, price=price, gst_rate=rate)


def _check_return(session: Session, company_id: int, request: SaleRequest) -> _Original:
    """The original sale must exist; no SKU may come back more often than it was sold."""
    find_original = (
        select(Sale.id, Sale.customer_id)
        .where(Sale.company_id == company_id, Sale.request_id == request.original_request_id, Sale.kind == "sale")
        .with_for_update()
    )
    original = session.execute(find_original).one_or_none()
    if original is None:
        if _received_but_pending(session, company_id, request.original_request_id):
            raise OriginalStillPending(request.original_request_id or "")
        # Each statement sees what had committed when it began: the original may have posted between
        # the two above (no longer pending, its sale not seen). Look once more before rejecting.
        original = session.execute(find_original).one_or_none()
    if original is None:
        raise UnknownOriginal(
            f"original sale {request.original_request_id!r} was never posted for this company",
            original_request_id=request.original_request_id,
        )
    left: dict[str, Decimal] = defaultdict(Decimal)
    sold: dict[str, tuple[Decimal, Decimal, Decimal]] = {}  # sku -> (quantity, amount, rate)
    already_back = (
        select(SaleLine.sku, SaleLine.quantity, SaleLine.amount, SaleLine.gst_rate, SaleLine.sale_id)
        .join(Sale, Sale.id == SaleLine.sale_id)
        .where((Sale.id == original.id) | (Sale.original_sale_id == original.id))
    )
    for sku, quantity, amount, rate, sale_id in session.execute(already_back):
        left[sku] += quantity
        if sale_id == original.id:
            qty, charged, _ = sold.get(sku, (Decimal(0), Decimal(0), rate))
            sold[sku] = (qty + quantity, charged + amount, rate)
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for line in request.lines:
        wanted[line.sku] += line.quantity
    over = {sku: qty for sku, qty in wanted.items() if qty > left[sku]}
    if over:
        text = ", ".join(f"{sku} (returning {qty}, returnable {left[sku]})" for sku, qty in sorted(over.items()))
        raise ReturnExceedsSale(f"return exceeds the original sale: {text}", skus={sku: str(left[sku]) for sku in over})
    paid = {sku: ((amount / qty).quantize(PRICE_PLACES), rate) for sku, (qty, amount, rate) in sold.items()}
    return _Original(original.id, original.customer_id, paid)


PRICE_PLACES = Decimal("0.0001")


def _received_but_pending(session: Session, company_id: int, request_id: str | None) -> bool:
    """Is a sale with this request_id received for this company but not decided yet?"""
    return (
        session.scalar(
            select(func.count())
            .select_from(SaleRequestRow)
            .join(Outlet, Outlet.code == SaleRequestRow.payload["outlet"].astext)
            .where(
                SaleRequestRow.request_id == request_id,
                SaleRequestRow.outcome == "PENDING",
                Outlet.company_id == company_id,
                func.coalesce(SaleRequestRow.payload["kind"].astext, "sale") == "sale",
            )
        )
        != 0
    )


def _insert_sale(
    session: Session,
    outlet: _Outlet,
    request: SaleRequest,
    priced: PricedSale,
    fingerprint: str,
    cashier_id: int | None,
    customer_id: int | None,
    original_id: int | None,
    intake_id: int,
) -> int:
    number = literal(f"{outlet.code}-").concat(func.lpad(cast(sale_number.next_value(), Text), 8, "0"))
    batch_id = select(SaleRequestRow.batch_id).where(SaleRequestRow.id == intake_id).scalar_subquery()
    sale_id: int = session.execute(
        insert(core(Sale))
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
        .returning(core(Sale).c.id)
    ).scalar_one()
    session.execute(
        insert(core(SaleLine)),
        [
            {
                "sale_id": sale_id,
                "line_no": line.line_no,
                "product_id": line.product.id,
                "sku": line.product.sku,
                "description": line.product.name,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "amount": line.amount,
                "gst_rate": line.gst_rate,
                "tax": line.tax,
            }
            for line in priced.lines
        ],
    )
    session.execute(
        insert(core(TenderRow)),
        [
            {"sale_id": sale_id, "method": t.method, "amount": t.amount, "reference": t.reference}
            for t in priced.tenders
        ],
    )
    return sale_id


def _apply_stock(session: Session, outlet: _Outlet, request: SaleRequest, priced: PricedSale, sale_id: int) -> None:
    changes: dict[int, Decimal] = defaultdict(Decimal)
    skus: dict[int, str] = {}
    for line in priced.lines:
        if line.product.track_inventory:
            changes[line.product.id] -= line.quantity  # quantity is negative on a return
            skus[line.product.id] = line.product.sku
    kind = "RETURN" if request.kind is Kind.RETURN else "SALE"
    after = move_stock(session, outlet.id, changes, kind, sale_id)
    below = {pid: on_hand for pid, on_hand in after.items() if on_hand < 0 and changes[pid] < 0}
    if not below:
        return
    policy = outlet.oversell_web if request.channel.value == "web" else outlet.oversell_pos
    if policy == "REJECT":
        raise InsufficientStock(
            [Shortfall(skus[pid], on_hand - changes[pid], -changes[pid]) for pid, on_hand in sorted(below.items())]
        )
    session.execute(
        insert(core(StockDiscrepancy)),
        [
            {"sale_id": sale_id, "outlet_id": outlet.id, "product_id": pid, "on_hand_after": on_hand}
            for pid, on_hand in sorted(below.items())
        ],
    )
