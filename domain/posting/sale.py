"""Writing a sale: header, lines, tenders, stock movements and the follow-up outbox, in one
statement, in the caller's transaction (or as its own, in autocommit: services/posting.py's plain
sales). Every rule is checked before the first write except stock, which is known only once its rows
are locked: an oversell the outlet allows is recorded by the statement itself; one it refuses comes
out as RejectedAfterWriting, so the caller rolls back first."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from domain.db import Direct
from domain.errors import InsufficientStock, Rejected, Shortfall, UnknownCashier, UnknownCustomer
from domain.posting.catalogue import Catalogue
from domain.posting.pricing import PricedSale, price_sale
from domain.posting.refunds import refunds_for
from domain.posting.request import Channel, Kind, SaleRequest
from domain.posting.returns import original_of
from domain.posting.stock import MovementKind, stock_moves
from domain.tables import sale_number
from domain.vocabulary import FollowUpKind, Outcome

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
    intake_id: int,
) -> int:
    """Write the sale and record its request POSTED; raise Rejected before the first write,
    RejectedAfterWriting after it, PostedMeanwhile when the sale key was taken meanwhile."""
    products = catalogue.products(conn, outlet.company_id, {line.sku for line in request.lines})
    refunds, refund_limit = None, None
    if request.kind is Kind.RETURN and request.original_request_id:
        # Priced from what the sale took, never from the catalogue; its points are its member's.
        original = original_of(conn, outlet.company_id, request, parties.customer_id)
        parties = Parties(parties.cashier_id, original.customer_id, original.id, parties.batch_id)
        refunds, refund_limit = refunds_for(request.lines, original.sold), original.left_to_refund
    priced = price_sale(request, products, outlet.prices_include_gst, refunds, refund_limit)
    changes = _stock_changes(request, priced)
    allows_oversell = oversell_policy(outlet, request) == "ALLOW"
    values = _header(outlet, request, priced, fingerprint, parties) | _body(priced) | changes.params(intake_id)
    rows = WRITE_SALE.rows(conn, values | {"allows_oversell": allows_oversell})
    if not rows:
        raise PostedMeanwhile
    sale_id: int = rows[0][0]
    after = {product_id: on_hand for _, product_id, on_hand in rows if product_id is not None}
    if not allows_oversell:
        try:
            _refuse_oversell(changes, after)
        except Rejected as rejection:
            raise RejectedAfterWriting(rejection) from None
    return sale_id


def oversell_policy(outlet: PostingOutlet, request: SaleRequest) -> str:
    """ALLOW (post it, record the oversell) or REJECT, by the request's channel."""
    return outlet.oversell_web if request.channel is Channel.WEB else outlet.oversell_pos


POSTED_MESSAGE = "posted"


def one_line(sql: str) -> str:
    """The statement with its layout squeezed out: psycopg parses a statement's placeholders once and
    caches it only up to 4,096 characters (MAX_CACHED_STATEMENT_LENGTH), and WRITE_SALE runs once a
    sale (tests/unit/test_write_statement.py keeps it under). No literal here holds a run of spaces."""
    return " ".join(sql.split())


# A batch's tallies (domain/batches/tallies.py) move with the sale, in its statement: its request
# PENDING -> POSTED, and its totals, lines, tenders and outbox rows, as the rows written return them,
# into this backend's slot, in (tally, key) order. The trigger on sale_requests leaves this one
# change of outcome to the statement (migration 0009; `tillpost check` compares the tallies with the
# ledger), which spares a trigger, a plpgsql call and four reads of what was just written.
TALLIED = f"""tallied AS (
        INSERT INTO batch_tallies AS t (batch_id, tally, key, slot, n, amount, tax)
        SELECT sale.batch_id, d.tally, d.key, pg_backend_pid(), sum(d.n), sum(d.amount), sum(d.tax) FROM sale, (
            SELECT x.* FROM sale, LATERAL (VALUES ('outcome', '{Outcome.PENDING}', -1, 0, 0),
                ('outcome', '{Outcome.POSTED}', 1, 0, 0), ('sales', '', 1, total, tax),
                ('outlet', outlet_id::text, 1, total, tax), ('change', '', 0, change_due, 0)) x
            UNION ALL SELECT 'tender', method, 1, amount, 0 FROM tenders
            UNION ALL SELECT 'gst_rate', gst_rate::text, 1, amount, tax FROM lines
            UNION ALL SELECT 'follow_ups', '', 1, 0, 0 FROM outbox
        ) AS d(tally, key, n, amount, tax)
        WHERE sale.batch_id IS NOT NULL GROUP BY sale.batch_id, d.tally, d.key
        HAVING sum(d.n) <> 0 OR sum(d.amount) <> 0 OR sum(d.tax) <> 0 ORDER BY d.tally, d.key
        ON CONFLICT (batch_id, tally, key, slot)
        DO UPDATE SET n = t.n + excluded.n, amount = t.amount + excluded.amount, tax = t.tax + excluded.tax
    )"""

# The whole sale in one round trip: the request claimed (locked, and still PENDING: one decided
# meanwhile leaves `claim` empty, and nothing is written), the header (claiming the sale key
# (company, request_id): a submission of the same request_id that committed meanwhile leaves `sale`
# empty, and nothing else is written), its lines, tenders, follow-up outbox rows, stock movements and
# on hand (locked in product-id order, after the sale key: decision.py's lock order), the oversells
# the outlet allows, and its request recorded POSTED. Arrays carry the rows (one element a row).
# Every CTE that writes reads `sale`, which reads `claim`, so they run in that order.
# The sale number is zero-padded to 8 digits and never cut: lpad() truncates a longer string, so past
# 99,999,999 it is padded to its own length (an 80-character transaction number holds a 50-character
# outlet code, a dash and a BIGINT's 19 digits).
WRITE_SALE = Direct(
    text(
        one_line(f"""
    WITH claim AS (
        SELECT id FROM sale_requests WHERE id = :intake_id AND outcome = '{Outcome.PENDING}' FOR UPDATE
    ), sale AS (
        INSERT INTO sales (company_id, request_id, fingerprint, transaction_number, kind, original_sale_id,
                           outlet_id, channel, occurred_at, cashier_id, customer_id, batch_id, notes,
                           subtotal, tax, rounding_adjustment, total, tendered, change_due)
        SELECT :company_id, :request_id, :fingerprint,
               CAST(:outlet_code AS text) || '-' || lpad(n, greatest(8, length(n)), '0'),
               :kind, :original_sale_id, :outlet_id, :channel, :occurred_at, :cashier_id, :customer_id,
               :batch_id, :notes, :subtotal, :tax, :rounding_adjustment, :total, :tendered, :change_due
        FROM claim, LATERAL (SELECT CAST(nextval('{sale_number.name}') AS text) AS n) AS drawn
        ON CONFLICT (company_id, request_id) DO NOTHING
        RETURNING id, outlet_id, batch_id, total, tax, change_due
    ), lines AS (
        INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity, unit_price, discount,
                                amount, gst_rate, tax, gst_category)
        SELECT sale.id, line.* FROM sale, json_to_recordset(CAST(:lines AS json)) AS line(
            line_no integer, product_id integer, sku text, description text, quantity numeric, unit_price numeric,
            discount numeric, amount numeric, gst_rate numeric, tax numeric, gst_category text)
        RETURNING gst_rate, amount, tax
    ), tenders AS (
        INSERT INTO tenders (sale_id, method, amount, reference)
        SELECT sale.id, tender.* FROM sale, json_to_recordset(CAST(:tenders AS json))
            AS tender(method text, amount numeric, reference text)
        RETURNING method, amount
    ), outbox AS (
        INSERT INTO follow_ups (sale_id, kind) SELECT sale.id, unnest(ARRAY[{", ".join(f"'{k}'" for k in FOLLOW_UPS)}])
        FROM sale
        RETURNING kind
    ), {TALLIED}, changes AS (
        SELECT c.* FROM sale, json_to_recordset(CAST(:stock AS json)) AS c(product_id integer, quantity numeric)
    ), {stock_moves("(SELECT id FROM sale)")}, oversold AS (
        INSERT INTO stock_discrepancies (sale_id, outlet_id, product_id, on_hand_after)
        SELECT sale.id, :outlet_id, product_id, on_hand FROM sale, levels JOIN changes USING (product_id)
        WHERE CAST(:allows_oversell AS boolean) AND on_hand < 0 AND quantity < 0
    ), recorded AS (
        UPDATE sale_requests AS r
        SET outcome = '{Outcome.POSTED}', message = '{POSTED_MESSAGE}', processed_at = now(),
            attempts = r.attempts + 1, sale_id = sale.id, company_id = :company_id
        FROM sale WHERE r.id = :intake_id
    )
    SELECT sale.id AS sale_id, product_id, on_hand FROM sale LEFT JOIN levels ON true
""")
    )
)


def _header(
    outlet: PostingOutlet, request: SaleRequest, priced: PricedSale, fingerprint: str, parties: Parties
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "company_id": outlet.company_id,
        "request_id": request.request_id,
        "fingerprint": fingerprint,
        "outlet_code": outlet.code,
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
    return values


def _body(priced: PricedSale) -> dict[str, Any]:
    """The lines and tenders as JSON (amounts as strings, read back exactly as numeric): one parameter
    each, which psycopg passes as it is, where a dozen arrays of Decimals took longer to dump than the
    rest of the sale's Python."""
    lines = [
        {
            "line_no": line.line_no,
            "product_id": line.product.id,
            "sku": line.product.sku,
            "description": line.product.name,
            "quantity": str(line.quantity),
            "unit_price": str(line.unit_price),
            "discount": str(line.discount),
            "amount": str(line.amount),
            "gst_rate": str(line.gst_rate),
            "tax": str(line.tax),
            "gst_category": line.product.gst_category,
        }
        for line in priced.lines
    ]
    tenders = [{"method": t.method, "amount": str(t.amount), "reference": t.reference} for t in priced.tenders]
    return {"lines": json.dumps(lines), "tenders": json.dumps(tenders)}


@dataclass(frozen=True)
class StockChanges:
    """What a sale does to on hand, by product id (tracked products only; negative takes stock)."""

    kind: str
    by_product: dict[int, Decimal]
    skus: dict[int, str]

    def params(self, intake_id: int) -> dict[str, Any]:
        """As one JSON parameter (quantities as strings, read back exactly), like the lines: psycopg
        dumps an array of Decimals element by element, in Python."""
        ordered = sorted((pid, qty) for pid, qty in self.by_product.items() if qty != 0)
        stock = [{"product_id": pid, "quantity": str(qty)} for pid, qty in ordered]
        return {"intake_id": intake_id, "movement_kind": self.kind, "stock": json.dumps(stock)}


def _stock_changes(request: SaleRequest, priced: PricedSale) -> StockChanges:
    changes: dict[int, Decimal] = defaultdict(Decimal)
    skus: dict[int, str] = {}
    for line in priced.lines:
        if line.product.track_inventory:
            changes[line.product.id] -= line.quantity  # quantity is negative on a return
            skus[line.product.id] = line.product.sku
    kind = MovementKind.RETURN if request.kind is Kind.RETURN else MovementKind.SALE
    return StockChanges(kind, dict(changes), skus)


def _refuse_oversell(changes: StockChanges, after: dict[int, Decimal]) -> None:
    """Stock taken below zero where the outlet refuses oversells: InsufficientStock, naming each SKU."""
    taken = changes.by_product
    below = {pid: on_hand for pid, on_hand in sorted(after.items()) if on_hand < 0 and taken[pid] < 0}
    if below:
        raise InsufficientStock(
            [Shortfall(changes.skus[pid], on_hand - taken[pid], -taken[pid]) for pid, on_hand in below.items()]
        )
