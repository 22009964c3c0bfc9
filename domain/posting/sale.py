"""Writing a sale: header, lines, tenders, stock movements and the follow-up outbox, in the caller's
transaction. Every rule is checked before the first write except stock, which is known only once its
rows are locked: that rejection comes out as RejectedAfterWriting, so the caller rolls back first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Text, cast, func, insert, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from domain.errors import InsufficientStock, Rejected, Shortfall, UnknownCashier, UnknownCustomer
from domain.posting.catalogue import Catalogue
from domain.posting.pricing import PricedSale, price_sale
from domain.posting.refunds import refunds_for
from domain.posting.request import Channel, Kind, SaleRequest
from domain.posting.returns import original_of
from domain.posting.stock import move_stock
from domain.tables import Sale, StockDiscrepancy, core_table, sale_number
from domain.vocabulary import FollowUpKind

FOLLOW_UPS = tuple(FollowUpKind)  # every sale gets one outbox row of each kind


class RejectedAfterWriting(Exception):
    """A rule failed after the sale began to be written: roll the transaction back, then record it."""

    def __init__(self, rejection: Rejected) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


class PostedMeanwhile(Exception):
    """The sale key was taken by a submission that committed while this one was deciding."""


@dataclass(frozen=True)
class PostingOutlet:
    """The outlet a request names, with its company's terms."""

    id: int
    code: str
    company_id: int
    prices_include_gst: bool
    oversell_pos: str
    oversell_web: str


@dataclass(frozen=True)
class Parties:
    """Who the sale is for and by, and where it came from, as ids."""

    cashier_id: int | None
    customer_id: int | None
    original_id: int | None = None
    batch_id: int | None = None


def known_parties(
    request: SaleRequest, cashier_id: int | None, customer_id: int | None, batch_id: int | None
) -> Parties:
    """The cashier's and customer's ids (read with the request, within its company); unknown ones reject."""
    if request.cashier is not None and cashier_id is None:
        raise UnknownCashier(f"cashier {request.cashier!r} is not a user of this company", cashier=request.cashier)
    if request.customer is not None and customer_id is None:
        raise UnknownCustomer(
            f"customer {request.customer!r} is not a customer of this company", customer=request.customer
        )
    return Parties(cashier_id, customer_id, batch_id=batch_id)


def write_sale(
    conn: Connection,
    outlet: PostingOutlet,
    request: SaleRequest,
    fingerprint: str,
    parties: Parties,
    catalogue: Catalogue,
) -> int:
    """Write the sale; raise Rejected before the first write, RejectedAfterWriting after it."""
    products = catalogue.products(conn, outlet.company_id, {line.sku for line in request.lines})
    refunds, refund_limit = None, None
    if request.kind is Kind.RETURN and request.original_request_id:
        # Priced from what the sale took, never from the catalogue; its points are its member's.
        original = original_of(conn, outlet.company_id, request, parties.customer_id)
        parties = Parties(parties.cashier_id, original.customer_id, original.id, parties.batch_id)
        refunds, refund_limit = refunds_for(request.lines, original.sold), original.left_to_refund
    priced = price_sale(request, products, outlet.prices_include_gst, refunds, refund_limit)
    sale_id = _insert_header(conn, outlet, request, priced, fingerprint, parties)
    conn.execute(SALE_BODY, _body(sale_id, priced))
    try:
        _apply_stock(conn, outlet, request, priced, sale_id)
    except Rejected as rejection:
        raise RejectedAfterWriting(rejection) from None
    return sale_id


def _insert_header(
    conn: Connection,
    outlet: PostingOutlet,
    request: SaleRequest,
    priced: PricedSale,
    fingerprint: str,
    parties: Parties,
) -> int:
    """The sale header. The sale key (company, request_id) is claimed here: if a submission of the
    same request_id committed meanwhile, this one starts over and finds it."""
    values: dict[str, Any] = {
        "company_id": outlet.company_id,
        "request_id": request.request_id,
        "fingerprint": fingerprint,
        "transaction_number": literal(f"{outlet.code}-").concat(_eight_digits_or_more()),
        "kind": request.kind.value,
        "original_sale_id": parties.original_id,
        "outlet_id": outlet.id,
        "channel": request.channel.value,
        "occurred_at": request.occurred_at,
        "cashier_id": parties.cashier_id,
        "customer_id": parties.customer_id,
        "batch_id": parties.batch_id,
        "notes": request.notes,
    }
    for total in ("subtotal", "tax", "rounding_adjustment", "total", "tendered", "change_due"):
        values[total] = getattr(priced, total)
    sale_id: int | None = conn.execute(
        pg_insert(core_table(Sale))
        .values(**values)
        .on_conflict_do_nothing(index_elements=["company_id", "request_id"])
        .returning(core_table(Sale).c.id)
    ).scalar_one_or_none()
    if sale_id is None:
        raise PostedMeanwhile
    return sale_id


def _body(sale_id: int, priced: PricedSale) -> dict[str, Any]:
    lines, tenders = priced.lines, priced.tenders
    return {
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
        "gst_categories": [line.product.gst_category for line in lines],
        "methods": [t.method for t in tenders],
        "tender_amounts": [t.amount for t in tenders],
        "references": [t.reference for t in tenders],
        "follow_ups": [str(kind) for kind in FOLLOW_UPS],
    }


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
                                amount, gst_rate, tax, gst_category)
        SELECT :sale_id, * FROM unnest(
            CAST(:line_nos AS integer[]), CAST(:product_ids AS integer[]), CAST(:skus AS text[]),
            CAST(:descriptions AS text[]), CAST(:quantities AS numeric[]), CAST(:unit_prices AS numeric[]),
            CAST(:discounts AS numeric[]), CAST(:amounts AS numeric[]), CAST(:gst_rates AS numeric[]),
            CAST(:taxes AS numeric[]), CAST(:gst_categories AS text[]))
    ), tenders AS (
        INSERT INTO tenders (sale_id, method, amount, reference)
        SELECT :sale_id, * FROM unnest(
            CAST(:methods AS text[]), CAST(:tender_amounts AS numeric[]), CAST(:references AS text[]))
    )
    INSERT INTO follow_ups (sale_id, kind) SELECT :sale_id, unnest(CAST(:follow_ups AS text[]))
""")


def _apply_stock(
    conn: Connection, outlet: PostingOutlet, request: SaleRequest, priced: PricedSale, sale_id: int
) -> None:
    changes: dict[int, Decimal] = defaultdict(Decimal)
    skus: dict[int, str] = {}
    for line in priced.lines:
        if line.product.track_inventory:
            changes[line.product.id] -= line.quantity  # quantity is negative on a return
            skus[line.product.id] = line.product.sku
    kind = "RETURN" if request.kind is Kind.RETURN else "SALE"
    after = move_stock(conn, outlet.id, changes, kind, sale_id)
    below = {pid: on_hand for pid, on_hand in sorted(after.items()) if on_hand < 0 and changes[pid] < 0}
    if not below:
        return
    policy = outlet.oversell_web if request.channel is Channel.WEB else outlet.oversell_pos
    if policy == "REJECT":
        raise InsufficientStock(
            [Shortfall(skus[pid], on_hand - changes[pid], -changes[pid]) for pid, on_hand in below.items()]
        )
    conn.execute(
        insert(core_table(StockDiscrepancy)),
        [
            {"sale_id": sale_id, "outlet_id": outlet.id, "product_id": pid, "on_hand_after": on_hand}
            for pid, on_hand in below.items()
        ],
    )
