"""A chunk's plain sales are posted in one statement each, its own transaction (services/posting.py,
`_post_plain_sales`); everything else is decided one transaction each. These tests pin that the
short path is taken, that it claims the request before writing (a request decided meanwhile is never
posted twice), and that what it leaves to the long path ends the same as it always did.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from domain.batches import staging
from domain.batches.entries import Entry
from domain.checks import check_ledger
from domain.db import Direct
from domain.posting import decision
from domain.posting.catalogue import Catalogue
from domain.posting.decision import decide_ahead, read_ahead
from domain.tables import Sale, SaleLine, SaleRequestRow, StockDiscrepancy, Tender
from services import posting
from services.batches import stage_batch
from services.posting import post_chunk
from services.unit_of_work import is_transient
from tests.plans import generic_plan, rows_read_from
from tests.shop import make_shop, on_hand, receive_one, sale

D = Decimal


pytestmark = pytest.mark.usefixtures("on_hand_equals_the_sum_of_movements")  # tests/integration/conftest.py


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        return make_shop(s, stock={"TEA": 100, "MUG": 100, "BOOK": 100})


def receive_all(sessions, payloads):
    return [receive_one(sessions, payload) for payload in payloads]


class Statements:
    """Counts what reaches PostgreSQL: statements, and the transactions begun and committed."""

    def __init__(self, engine):
        self.engine, self.statements, self.commits = engine, 0, 0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)

    def _statement(self, *args):
        self.statements += 1

    def _commit(self, *args):
        self.commits += 1


def test_a_chunk_of_plain_sales_costs_one_statement_a_sale(sessions, shop):
    ids = receive_all(sessions, [sale(f"r{n}", [("TEA", "1"), ("MUG", "2")], [("CARD", "30.30")]) for n in range(20)])
    with Statements(sessions.engine) as seen:
        posted = post_chunk(sessions, ids)
    assert posted.counts == {"POSTED": 20}
    assert len(posted.new_sales) == 20
    # Two reads ahead (products, requests), a statement a sale, and none of them in a transaction:
    # the long path would be 3 statements and a COMMIT a sale.
    assert seen.statements == 2 + 20
    assert seen.commits == 0
    with sessions.begin() as s:
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(80)
        assert s.scalar(select(func.count()).select_from(Sale)) == 20


def test_a_request_decided_after_it_was_read_ahead_is_left_as_decided(sessions, shop):
    (intake_id,) = receive_all(sessions, [sale("r1", [("TEA", "1")], [("CASH", "4.50")])])
    with sessions.engine.connect() as conn:
        rows = read_ahead(conn, [intake_id])
    # Meanwhile another delivery decided it (REJECTED, say: the sale key cannot catch that one)
    with sessions.begin() as s:
        s.execute(
            update(SaleRequestRow)
            .where(SaleRequestRow.id == intake_id)
            .values(outcome="REJECTED", reason="INVALID", message="decided meanwhile")
        )
    with sessions.engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        assert rows[intake_id].outcome == "PENDING"  # as it was read ahead
        assert decide_ahead(auto, rows[intake_id], Catalogue()) is None  # the claim finds it decided
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 0
        assert s.scalar(select(SaleRequestRow.outcome).where(SaleRequestRow.id == intake_id)) == "REJECTED"
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(100)


def test_what_is_not_a_plain_sale_is_decided_as_before(sessions, shop):
    payloads = [
        sale("ok-1", [("TEA", "2")], [("CASH", "9.00")]),
        sale("bad-sku", [("NOPE", "1")], [("CASH", "1.00")]),  # REJECTED before anything is written
        sale("ok-1", [("TEA", "2")], [("CASH", "9.00")]),  # the same request again: DUPLICATE
        sale(
            "web-short", [("MUG", "500")], [("CARD", "6450.00")], outlet="WEB", channel="web"
        ),  # web refuses oversells
        sale("till-short", [("BOOK", "150")], [("CARD", "3000.00")]),  # a till's oversell posts
    ]
    del payloads[3]["cashier"]
    ids = receive_all(sessions, payloads)
    posted = post_chunk(sessions, ids)
    assert posted.counts == {"POSTED": 2, "REJECTED": 2, "DUPLICATE": 1}
    with sessions.begin() as s:
        reasons = dict(s.execute(select(SaleRequestRow.request_id, SaleRequestRow.reason)).all())
        assert reasons == {
            "ok-1": None,
            "bad-sku": "UNKNOWN_SKU",
            "web-short": "INSUFFICIENT_STOCK",
            "till-short": None,
        }
        # the till's oversell is posted by the one statement, which keeps the shortfall to look at
        book = shop.product_ids["BOOK"]
        assert s.execute(select(StockDiscrepancy.product_id, StockDiscrepancy.on_hand_after)).all() == [(book, D(-50))]
        assert on_hand(s, shop.outlet_ids["WEB"], shop.product_ids["MUG"]) == D(100)  # nothing of the refused order


def stage(sessions, payloads):
    entries = [Entry(n, payload) for n, payload in enumerate(payloads, 1)]
    batch_id = stage_batch(sessions, "day.jsonl", f"day-{len(payloads)}", lambda: entries).batch_id
    with sessions() as s:
        ids = list(s.scalars(select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id)))
    return batch_id, ids


def test_a_chunk_delivered_to_four_workers_at_once_posts_and_tallies_each_sale_once(sessions, shop):
    # Given a batch's chunk of 60 plain sales, all selling the same two products
    payloads = [sale(f"r{n}", [("TEA", "1"), ("MUG", "1")], [("CARD", "17.40")]) for n in range(60)]
    batch_id, ids = stage(sessions, payloads)
    # When the broker delivers its message to four workers at the same moment
    start = threading.Barrier(4)

    def worker(_):
        start.wait()
        return post_chunk(sessions, ids)

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(worker, range(4)))
    # Then every sale is posted once, announced as new by exactly one of them, and stock moved once
    new_sales = [sale_id for run in runs for sale_id in run.new_sales]
    assert len(new_sales) == len(set(new_sales)) == 60
    assert all(run.counts == {"POSTED": 60} for run in runs)
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 60
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(40)
    # And the batch's tallies count each sale once (check compares them with the rows)
    with sessions() as s:
        assert [v for v in check_ledger(s) if v.check == "batch_tally"] == []
        tallied = s.execute(
            select(func.sum(text("n")))
            .select_from(text("batch_tallies"))
            .where(text("batch_id = :b AND tally = 'outcome' AND key = 'POSTED'")),
            {"b": batch_id},
        ).scalar()
    assert tallied == 60


def test_a_sale_the_short_way_cannot_write_is_decided_the_long_way(sessions, shop, monkeypatch):
    ids = receive_all(sessions, [sale(f"r{n}", [("TEA", "1")], [("CASH", "4.50")]) for n in range(5)])
    real = decision.decide_ahead

    # Given the one-statement write failing for the second request with something unforeseen
    def failing(conn, row, catalogue):
        if row.id == ids[1]:
            raise ValueError("something unforeseen")
        return real(conn, row, catalogue)

    monkeypatch.setattr(posting, "decide_ahead", failing)
    posted = post_chunk(sessions, ids)
    # Then that request is decided in a transaction of its own (and posts), the rest the short way
    assert posted.counts == {"POSTED": 5}
    assert len(set(posted.new_sales)) == 5


def test_after_a_passing_fault_the_rest_of_the_chunk_is_decided_the_long_way(sessions, shop, monkeypatch):
    ids = receive_all(sessions, [sale(f"r{n}", [("TEA", "1")], [("CASH", "4.50")]) for n in range(6)])
    real = decision.decide_ahead

    # Given the connection lost while writing the third sale (a transient fault: the server went away)
    def losing(conn, row, catalogue):
        if row.id == ids[2]:
            raise OperationalError("INSERT ...", {}, Exception("server closed the connection unexpectedly"))
        return real(conn, row, catalogue)

    monkeypatch.setattr(posting, "decide_ahead", losing)
    posted = post_chunk(sessions, ids)
    # Then the two before it stand, and the third and the rest are decided one transaction each
    assert posted.interrupted is None
    assert posted.counts == {"POSTED": 6}
    with sessions.begin() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 6
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(94)


def test_text_and_amounts_reach_the_ledger_exactly_through_the_json_parameters(sessions):
    # Given names and a tender reference a hostile web client or a careless till might send
    # (quotes, backslashes, JSON-looking text, a line separator, non-Latin letters), and amounts at
    # the precision of their columns
    odd = 'He said "1, 2" \\ {"x": [1]} \u2028 雪 ☃'
    with sessions.begin() as s:
        make_shop(s, products={"ODD": {"price": Decimal("1.2345"), "name": odd}}, stock={"ODD": 10})
    payloads = [sale(f"r{n}", [("ODD", "0.125", "1.2345")], [("CARD", "0.15")], notes=odd) for n in range(2)]
    for payload in payloads:
        payload["tenders"][0]["reference"] = odd
    posted = post_chunk(sessions, receive_all(sessions, payloads))
    # Then both post the short way, each text is stored as sent and each amount as priced
    assert posted.counts == {"POSTED": 2}
    with sessions.begin() as s:
        lines = s.execute(select(SaleLine.description, SaleLine.quantity, SaleLine.unit_price, SaleLine.amount)).all()
        tenders = s.execute(select(Tender.reference, Tender.amount)).all()
    assert lines == [(odd, D("0.125"), D("1.2345"), D("0.15"))] * 2
    assert tenders == [(odd, D("0.15"))] * 2


def test_reading_a_chunk_ahead_finds_each_existing_sale_by_its_whole_key_even_on_a_generic_plan(sessions, shop):
    """The read-ahead looks up the sale already posted under each request's id. Prepared, it runs on
    a generic plan, and one made on a new ledger's stale statistics once matched sales by company
    alone: each request of the chunk read every sale of the company (a chunk took 70 ms of a 10,000-sale
    day). Each lookup is by the whole key now, whatever the plan: about a sale a request."""
    with sessions.begin() as s:
        s.execute(text("ANALYZE sales"))  # statistics of an empty ledger, as on a shop's first day
    posted = receive_all(sessions, [sale(f"p{n}", [("TEA", "0.001")], [("CASH", "0.01")]) for n in range(300)])
    for start in range(0, len(posted), 100):
        assert post_chunk(sessions, posted[start : start + 100]).counts == {"POSTED": 100}
    again = receive_all(sessions, [sale(f"p{n}", [("TEA", "0.001")], [("CASH", "0.01")]) for n in range(250, 300)])

    with sessions.engine.connect() as conn:
        plan = generic_plan(conn, decision.read_ahead_query(again))
        rows = read_ahead(conn, again)
    assert {row.existing_sale_id is not None for row in rows.values()} == {True}  # each found: a DUPLICATE
    assert rows_read_from(plan, "sales") <= 2 * len(again)  # not 50 x 300


def test_a_statement_run_directly_fails_as_sqlalchemy_would(sessions):
    """The write statement bypasses SQLAlchemy's execution (domain/db.py, Direct); what goes wrong
    still comes out as SQLAlchemy says it: a connection lost under it is invalidated and a passing
    fault (so the chunk is tried again), and any other error is a DBAPIError with PostgreSQL's own,
    on a connection that goes on."""
    with sessions.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
        assert Direct(text("SELECT CAST(:n AS int) + 1")).rows(conn, {"n": 1}) == [(2,)]
        with sessions.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as lost:
            Direct(text("SELECT 1")).rows(conn, {})
        assert lost.value.connection_invalidated and is_transient(lost.value)
        assert conn.invalidated

    with sessions.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(DBAPIError) as wrong:
            Direct(text("SELECT 1 / CAST(:n AS int)")).rows(conn, {"n": 0})
        assert "division by zero" in str(wrong.value.orig)
        assert not wrong.value.connection_invalidated and not is_transient(wrong.value)
        assert Direct(text("SELECT 1")).rows(conn, {}) == [(1,)]  # the connection goes on


def test_a_posting_message_reads_its_range_of_requests_alone_even_on_a_generic_plan(sessions, shop):
    """A posting message names a range of intake ids. Read with its batch and outcome, a generic plan
    made before the batch's COPY took the (batch, outcome) index: every PENDING request of the batch
    for each chunk, more the longer the batch. The range alone is read now, by the primary key."""
    with sessions.begin() as s:
        s.execute(text("ANALYZE sale_requests"))  # statistics from before the batch, as on its first chunk
    batch_id, ids = stage(sessions, [sale(f"q{n}", [("TEA", "1")], [("CASH", "4.50")]) for n in range(2000)])
    first, last = min(ids) + 1000, min(ids) + 1099
    with sessions.engine.connect() as conn:
        plan = generic_plan(conn, staging.requests_in_range(first, last))
    assert rows_read_from(plan, "sale_requests") <= 2 * 100  # the range's 100, not the batch's 2,000
    with sessions() as s:
        assert staging.pending_in_range(s, batch_id, first, last) == list(range(first, last + 1))
        assert staging.pending_in_range(s, batch_id + 1, first, last) == []  # another batch's range: none
