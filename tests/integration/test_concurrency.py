"""Concurrent posting on real PostgreSQL: no lost stock update, no deadlock reaching a caller, one sale per request.

Threads share the engine through the `sessions` factory; each posting opens its own session and transaction.
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from domain.posting.intake import receive
from domain.tables import SaleRequestRow, StockMovement
from services.posting import post_request
from tests.shop import make_shop, on_hand, receive_one, row_counts, sale, stock_drift, submit_and_post

D = Decimal
THREADS = 8

pytestmark = pytest.mark.timeout(300)


def in_parallel(work, items):
    """Run work(item) for every item on THREADS threads released together; re-raise the first exception."""
    start = threading.Barrier(THREADS)
    chunks = [items[n::THREADS] for n in range(THREADS)]

    def run(chunk):
        start.wait()
        return [work(item) for item in chunk]

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, chunk) for chunk in chunks]
        return [result for future in futures for result in future.result()]


def web_order(n):
    """Order n: 1, 2 or 3 tea, a mug and 2 books, with the lines in a different order from order to order."""
    lines = [("TEA", str(1 + n % 3)), ("MUG", "1"), ("BOOK", "2")]
    lines = lines[n % 3 :] + lines[: n % 3]
    if n % 2:
        lines.reverse()
    body = sale(f"W-{n:04d}", lines, [("CASH", "100.00")], outlet="WEB", channel="web")
    del body["cashier"]
    return body


def test_400_web_orders_for_the_same_products_at_once_lose_no_stock_update(sessions):
    # Given 1000 tea, 1000 mugs and 1000 books at the web outlet
    with sessions.begin() as s:
        shop = make_shop(s, stock={"TEA": 1000, "MUG": 1000, "BOOK": 1000})

    # When 8 threads each receive and post 50 of 400 orders at once
    def receive_and_post(n):
        return submit_and_post(sessions, web_order(n)).outcome

    outcomes = in_parallel(receive_and_post, list(range(400)))

    # Then every order posted (no exception reached a caller: in_parallel re-raises any)
    assert Counter(outcomes) == {"POSTED": 400}
    # And stock is 1000 less what was sold: tea 134x1 + 133x2 + 133x3 = 799, mugs 400, books 800
    web = shop.outlet_ids["WEB"]
    with sessions.begin() as s:
        assert [on_hand(s, web, shop.product_ids[sku]) for sku in ("TEA", "MUG", "BOOK")] == [D(201), D(600), D(200)]
        # And on hand is the sum of the movements, with one SALE movement per product per order
        assert stock_drift(s) == {}
        sold = s.execute(
            select(StockMovement.product_id, func.count(), func.sum(StockMovement.quantity))
            .where(StockMovement.kind == "SALE")
            .group_by(StockMovement.product_id)
        ).all()
        assert sorted(sold) == sorted(
            [
                (shop.product_ids["TEA"], 400, D(-799)),
                (shop.product_ids["MUG"], 400, D(-400)),
                (shop.product_ids["BOOK"], 400, D(-800)),
            ]
        )
        counts = row_counts(s)
        assert (counts["sales"], counts["sale_lines"], counts["tenders"], counts["stock_discrepancies"]) == (
            400,
            1200,
            400,
            0,
        )
        assert s.scalar(select(func.count()).where(SaleRequestRow.outcome != "POSTED")) == 0


def test_web_orders_racing_for_the_last_units_never_oversell(sessions):
    # Given 30 mugs and 80 orders of 1 mug each, all at once on the web (oversell REJECT)
    with sessions.begin() as s:
        shop = make_shop(s, stock={"MUG": 30})

    def order(n):
        body = sale(f"W-{n}", [("MUG", "1")], [("CARD", "12.90")], outlet="WEB", channel="web")
        del body["cashier"]
        return submit_and_post(sessions, body).outcome

    outcomes = in_parallel(order, list(range(80)))

    # Then exactly 30 are posted, 50 are rejected, and the stock ends at zero
    assert Counter(outcomes) == {"POSTED": 30, "REJECTED": 50}
    with sessions.begin() as s:
        assert on_hand(s, shop.outlet_ids["WEB"], shop.product_ids["MUG"]) == D(0)
        assert stock_drift(s) == {}
        reasons = s.scalars(select(SaleRequestRow.reason).where(SaleRequestRow.outcome == "REJECTED")).all()
    assert set(reasons) == {"INSUFFICIENT_STOCK"}


def test_the_same_request_posted_by_8_workers_at_once_is_posted_once_and_duplicated_seven_times(sessions):
    with sessions.begin() as s:
        shop = make_shop(s, stock={"TEA": 100})
    for round_no in range(5):
        # Given 8 intake rows carrying one request (a front-end that retried 7 times)
        payload = sale(f"r{round_no}", [("TEA", "2")], [("CARD", "9.00")])
        with sessions.begin() as s:
            intake_ids = receive(s, [payload] * THREADS)

        # When 8 workers post them at the same moment
        results = in_parallel(lambda intake_id: post_request(sessions, intake_id), intake_ids)

        # Then exactly one is POSTED and the other seven are DUPLICATEs of that one sale
        assert Counter(r.outcome for r in results) == {"POSTED": 1, "DUPLICATE": 7}
        assert len({r.sale_id for r in results}) == 1
    with sessions.begin() as s:
        assert row_counts(s)["sales"] == 5
        # And the stock moved once per request: 100 - 5 x 2
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(90)
        assert stock_drift(s) == {}


def test_returns_racing_against_one_sale_never_return_more_than_was_sold(sessions):
    # Given a sale of 3 tea
    with sessions.begin() as s:
        shop = make_shop(s, stock={"TEA": 10})
    assert submit_and_post(sessions, sale("r1", [("TEA", "3")], [("CARD", "13.50")])).outcome == "POSTED"
    returns = [
        sale(f"R{n}", [("TEA", "1")], [("CARD", "4.50")], kind="return", original_request_id="r1")
        for n in range(THREADS)
    ]
    intake_ids = [receive_one(sessions, body) for body in returns]

    # When 8 returns of 1 tea each are posted at once
    results = in_parallel(lambda intake_id: post_request(sessions, intake_id), intake_ids)

    # Then only 3 come back; the rest exceed the sale
    assert Counter(r.outcome for r in results) == {"POSTED": 3, "REJECTED": 5}
    with sessions.begin() as s:
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == D(10)
        assert stock_drift(s) == {}
        reasons = s.scalars(select(SaleRequestRow.reason).where(SaleRequestRow.outcome == "REJECTED")).all()
    assert set(reasons) == {"RETURN_EXCEEDS_SALE"}
