"""Deciding a sale request: THE place where a sale enters the ledger.

`decide` locks the request, decides its single outcome (POSTED, DUPLICATE, CONFLICT or REJECTED)
and records it together with the sale, in the caller's transaction (services.posting owns it; nothing
here commits). When a rule fails after the sale began to be written (stock, say), RejectedAfterWriting
tells the caller to roll back and record the rejection on its own (`record_rejection`): a rejected
sale leaves no trace anywhere.

A chunk's plain sales take a shorter way (`decide_ahead`): read ahead with the chunk, each is posted
by its one write statement alone, in autocommit, which claims the request (still PENDING) first.

Two submissions of one request_id cannot both post: the sale's unique (company, request_id) key
makes the second wait for the first and then find it (a DUPLICATE or CONFLICT).

Lock order, always: intake row -> original sale (returns; FOR NO KEY UPDATE, so it never blocks the
foreign-key checks of follow-ups) -> sale key -> stock rows by product id (domain/posting/stock.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, cast, func, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from domain.errors import InternalError, NotFound, OriginalStillPending, Rejected, UnknownOutlet, describe
from domain.posting.catalogue import Catalogue
from domain.posting.pricing import check_terms
from domain.posting.request import Kind, SaleRequest, request_from
from domain.posting.sale import (
    POSTED_MESSAGE,
    PostedMeanwhile,
    PostingOutlet,
    known_parties,
    oversell_policy,
    write_sale,
)
from domain.tables import Company, Customer, Outlet, Sale, SaleRequestRow, User, among
from domain.vocabulary import Outcome


@dataclass(frozen=True)
class Decision:
    """What one posting attempt decided (PENDING: not yet, a return whose sale is still in flight);
    `sale_id` is set for POSTED and DUPLICATE."""

    intake_id: int
    outcome: str
    sale_id: int | None = None
    newly_posted: bool = False
    batch_id: int | None = None  # the request's batch, which may move on now


def decide(session: Session, intake_id: int, catalogue: Catalogue | None = None) -> Decision:
    """Decide one received request and record it. Safe to run twice or in parallel: a request whose
    outcome is already recorded is left as is. A `catalogue` shared by a chunk reads each product once."""
    conn = session.connection()  # Core on the session's connection: the ORM adds nothing here
    row = conn.execute(_INTAKE_WITH_OUTLET, {"intake_id": intake_id}).one_or_none()
    if row is None:
        raise NotFound("sale request", str(intake_id))
    if row.outcome != Outcome.PENDING:
        return _decided(intake_id, row)
    try:
        return _post(conn, intake_id, row, catalogue or Catalogue())
    except OriginalStillPending:
        return Decision(
            intake_id, Outcome.PENDING, batch_id=row.batch_id
        )  # nothing recorded: the caller tries it again later
    except Rejected as rejection:
        _record(conn, intake_id, Outcome.REJECTED, **_rejection_values(rejection, row.line_no))
        return Decision(intake_id, Outcome.REJECTED, batch_id=row.batch_id)


def decide_ahead(conn: Connection, row: Row[Any], catalogue: Catalogue) -> Decision | None:
    """Post a plain sale read ahead with its chunk (`read_ahead`), on an autocommit connection: its
    one write statement is its own transaction, so it is posted in one round trip. None for anything
    else (a return, an outlet refusing oversells, a rejection, a duplicate, a request decided or
    posted meanwhile): it is decided in a transaction of its own (`decide`), which records it.
    The statement claims the request (locked and still PENDING) before writing anything."""
    if row.outcome != Outcome.PENDING:
        return _decided(row.id, row)
    if row.outlet_id is None or row.existing_sale_id is not None:
        return None
    try:
        request = request_from(row.payload)
        outlet = _outlet(row, request)
        if request.kind is not Kind.SALE or oversell_policy(outlet, request) != "ALLOW":
            return None  # a return reads its sale; a refused oversell is rolled back: both need a transaction
        return _write(conn, row.id, row, request, outlet, catalogue)
    except (Rejected, PostedMeanwhile):
        return None


def read_ahead(conn: Connection, intake_ids: list[int]) -> dict[int, Row[Any]]:
    """The chunk's requests with what posting them needs, by intake id, locking nothing."""
    return {row.id: row for row in conn.execute(read_ahead_query(intake_ids))}


def read_ahead_query(intake_ids: list[int]) -> Select[Any]:
    return _INTAKE_AND_NAMES.add_columns(SaleRequestRow.id).where(among(SaleRequestRow.id, intake_ids))


def _post(conn: Connection, intake_id: int, row: Row[Any], catalogue: Catalogue) -> Decision:
    request = request_from(row.payload)
    return _write(conn, intake_id, row, request, _outlet(row, request), catalogue)


def _outlet(row: Row[Any], request: SaleRequest) -> PostingOutlet:
    if row.outlet_id is None:
        raise UnknownOutlet(f"outlet {request.outlet!r} is not in the master data", outlet=request.outlet)
    return PostingOutlet(
        row.outlet_id, request.outlet, row.company_id, row.prices_include_gst, row.oversell_pos, row.oversell_web
    )


def _write(
    conn: Connection, intake_id: int, row: Row[Any], request: SaleRequest, outlet: PostingOutlet, catalogue: Catalogue
) -> Decision:
    parties = known_parties(request, row.cashier_id, row.customer_id, row.batch_id)
    fingerprint = request.fingerprint()
    if row.existing_sale_id is not None:
        outcome = Outcome.DUPLICATE if row.existing_fingerprint == fingerprint else Outcome.CONFLICT
        recorded = {"existing_fingerprint": row.existing_fingerprint, "fingerprint": fingerprint}
        _record(conn, intake_id, outcome, sale_id=row.existing_sale_id, company_id=outlet.company_id, **recorded)
        return Decision(intake_id, outcome, row.existing_sale_id, batch_id=row.batch_id)
    check_terms(request, row.currency, row.prices_include_gst)
    sale_id = write_sale(conn, outlet, request, fingerprint, parties, catalogue, intake_id)  # and records POSTED
    return Decision(intake_id, Outcome.POSTED, sale_id, newly_posted=True, batch_id=row.batch_id)


def _one(*columns: Any, where: Any, name: str) -> Any:
    """A lookup by a unique key, joined LATERAL: LIMIT 1 keeps it a subquery planned on its own, an
    index lookup by the whole key (or, on a table of a few pages, a scan of them). As a plain join, a
    generic plan made while the ledger was small (stale statistics) matched sales by company alone
    and filtered the rest: every sale of the company read for each request of the chunk
    (tests/integration/test_posting_one_statement.py pins it)."""
    return select(*columns).where(where).limit(literal_column("1")).lateral(name)


_OUTLET = _one(Outlet.id, Outlet.company_id, where=Outlet.code == SaleRequestRow.payload["outlet"].astext, name="o")
_CASHIER = _one(
    User.id,
    where=(User.company_id == _OUTLET.c.company_id) & (User.username == SaleRequestRow.payload["cashier"].astext),
    name="u",
)
_CUSTOMER = _one(
    Customer.id,
    where=(Customer.company_id == _OUTLET.c.company_id) & (Customer.code == SaleRequestRow.payload["customer"].astext),
    name="c",
)
# A sale already posted under this request_id (a sale posted after this statement began is caught
# by the sale key's ON CONFLICT in domain/posting/sale.py instead).
_EXISTING = _one(
    Sale.id,
    Sale.fingerprint,
    where=(Sale.company_id == _OUTLET.c.company_id) & (Sale.request_id == SaleRequestRow.request_id),
    name="s",
)
_INTAKE_AND_NAMES = (
    select(
        SaleRequestRow.payload,
        SaleRequestRow.outcome,
        SaleRequestRow.sale_id,
        SaleRequestRow.line_no,
        SaleRequestRow.batch_id,
        _OUTLET.c.id.label("outlet_id"),
        _OUTLET.c.company_id,
        Company.prices_include_gst,
        Company.currency,
        Company.oversell_pos,
        Company.oversell_web,
        _EXISTING.c.id.label("existing_sale_id"),
        _EXISTING.c.fingerprint.label("existing_fingerprint"),
        _CASHIER.c.id.label("cashier_id"),
        _CUSTOMER.c.id.label("customer_id"),
    )
    .select_from(SaleRequestRow)
    .outerjoin(_OUTLET, true())
    .outerjoin(Company, Company.id == _OUTLET.c.company_id)
    .outerjoin(_CASHIER, true())
    .outerjoin(_CUSTOMER, true())
    .outerjoin(_EXISTING, true())
)
_INTAKE_WITH_OUTLET = _INTAKE_AND_NAMES.where(SaleRequestRow.id == bindparam("intake_id")).with_for_update(
    of=SaleRequestRow
)


def record_rejection(session: Session, intake_id: int, rejection: Rejected) -> Decision:
    """Record a rejection on its own (the sale's transaction rolled back), unless another attempt
    decided meanwhile."""
    conn = session.connection()
    row = conn.execute(_INTAKE_WITH_OUTLET, {"intake_id": intake_id}).one()
    if row.outcome != Outcome.PENDING:
        return _decided(intake_id, row)
    _record(conn, intake_id, Outcome.REJECTED, **_rejection_values(rejection, row.line_no))
    return Decision(intake_id, Outcome.REJECTED, batch_id=row.batch_id)


def _decided(intake_id: int, row: Row[Any]) -> Decision:
    """The outcome already recorded for this request (by an earlier attempt, or another worker)."""
    return Decision(intake_id, row.outcome, row.sale_id, batch_id=row.batch_id)


def internal_error(error: BaseException) -> InternalError:
    """The rejection of a request whose posting raised something unforeseen (REJECTED /
    INTERNAL_ERROR): one poisoned request never holds back the rest of its batch; replay posts it
    again once the cause is mended."""
    return InternalError(f"posting failed unexpectedly ({describe(error)})")


def _rejection_values(rejection: Rejected, line_no: int | None) -> dict[str, Any]:
    where = f"line {line_no}: " if line_no is not None else ""
    return {"reason": rejection.code, "message": where + rejection.message, "details": rejection.details or None}


_MESSAGES = {
    Outcome.POSTED: POSTED_MESSAGE,
    Outcome.DUPLICATE: "already posted with the same content; nothing new recorded",
    Outcome.CONFLICT: "this request_id was already posted with different content; nothing new recorded",
}


def _record(conn: Connection, intake_id: int, outcome: Outcome, **values: Any) -> None:
    message = values.pop("message", None) or _MESSAGES[outcome]
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
