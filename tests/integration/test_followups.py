"""Follow-ups over sets of sales: reorder suggestions, loyalty points, receipts; each idempotent."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, update

from domain.errors import NotFound
from domain.followups.outbox import open_follow_ups, run_loyalty, run_receipts, run_reorder
from domain.followups.receipts import receipt_for
from domain.tables import Customer, FollowUp, LoyaltyEntry, ReorderSuggestion, Supplier
from tests.followup_support import follow_up, post, table_contents, transaction_number
from tests.shop import make_shop, sale


def suggestions(sessions):
    with sessions() as s:
        return s.execute(
            select(
                ReorderSuggestion.id,
                ReorderSuggestion.outlet_id,
                ReorderSuggestion.product_id,
                ReorderSuggestion.on_hand,
                ReorderSuggestion.suggested_quantity,
                ReorderSuggestion.status,
                ReorderSuggestion.supplier_id,
            ).order_by(ReorderSuggestion.id)
        ).all()


def ledger(sessions, code="C001"):
    """(balance, [points of each entry in sale order]) of one customer."""
    with sessions() as s:
        customer_id, balance = s.execute(select(Customer.id, Customer.points).where(Customer.code == code)).one()
        entries = s.scalars(
            select(LoyaltyEntry.points).where(LoyaltyEntry.customer_id == customer_id).order_by(LoyaltyEntry.sale_id)
        ).all()
    return balance, list(entries)


def receipt(sessions, sale_id, html=False):
    with sessions() as s:
        return receipt_for(s, transaction_number(sessions, sale_id), html=html)


# Reorder -----------------------------------------------------------------------------------------


def test_a_sale_down_to_the_reorder_point_opens_one_suggestion_up_to_the_target(sessions):
    # Given MUG (reorder point 5, target 20) with 10 on the shelf
    with sessions.begin() as s:
        shop = make_shop(s, stock={"MUG": 10, "TEA": 10})
        supplier_id = s.scalar(select(Supplier.id))
    # When 5 mugs and some tea (no reorder point) are sold and the reorder check runs
    sale_id = post(sessions, sale("r1", [("MUG", "5"), ("TEA", "9")], [("CARD", "105.00")]))
    assert follow_up(sessions, run_reorder, [sale_id]) == 1
    # Then one open suggestion brings the mugs back to 20 from the mug supplier
    ((_, outlet_id, product_id, on_hand, quantity, status, supplier),) = suggestions(sessions)
    assert (outlet_id, product_id) == (shop.outlet_ids["ORCH"], shop.product_ids["MUG"])
    assert (on_hand, quantity, status, supplier) == (Decimal(5), Decimal(15), "OPEN", supplier_id)


def test_a_sale_that_leaves_stock_above_the_reorder_point_suggests_nothing(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "4"), ("GIFTCARD", "1")], [("CARD", "101.60")]))
    assert follow_up(sessions, run_reorder, [sale_id]) == 1
    assert suggestions(sessions) == []


def test_a_second_low_sale_updates_the_open_suggestion_instead_of_adding_one(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    first = post(sessions, sale("r1", [("MUG", "5")], [("CARD", "64.50")]))
    follow_up(sessions, run_reorder, [first])
    (opened,) = suggestions(sessions)
    second = post(sessions, sale("r2", [("MUG", "2")], [("CARD", "25.80")]))
    follow_up(sessions, run_reorder, [second])
    (updated,) = suggestions(sessions)
    assert updated.id == opened.id
    assert (updated.on_hand, updated.suggested_quantity, updated.status) == (Decimal(3), Decimal(17), "OPEN")


def test_stock_rising_above_the_reorder_point_closes_the_suggestion_and_a_later_low_opens_a_new_one(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    low = post(sessions, sale("r1", [("MUG", "6")], [("CARD", "77.40")]))
    follow_up(sessions, run_reorder, [low])
    # A customer brings 3 mugs back: 7 on the shelf, above the point of 5
    back = post(sessions, sale("r2", [("MUG", "3")], [("CARD", "38.70")], kind="return", original_request_id="r1"))
    follow_up(sessions, run_reorder, [back])
    assert [row.status for row in suggestions(sessions)] == ["CLOSED"]
    again = post(sessions, sale("r3", [("MUG", "3")], [("CARD", "38.70")]))
    follow_up(sessions, run_reorder, [again])
    assert [(row.status, row.on_hand, row.suggested_quantity) for row in suggestions(sessions)] == [
        ("CLOSED", Decimal(4), Decimal(16)),
        ("OPEN", Decimal(4), Decimal(16)),
    ]


def test_without_a_target_the_suggestion_lifts_stock_back_above_the_reorder_point(sessions):
    with sessions.begin() as s:
        make_shop(s, products={"CUP": {"price": Decimal("3.00"), "reorder_point": Decimal(5)}}, stock={"CUP": 8})
    at_point = post(sessions, sale("r1", [("CUP", "3")], [("CARD", "9.00")]))
    follow_up(sessions, run_reorder, [at_point])
    assert [row.suggested_quantity for row in suggestions(sessions)] == [Decimal(1)]  # 5 on hand: one more
    below = post(sessions, sale("r2", [("CUP", "3")], [("CARD", "9.00")]))
    follow_up(sessions, run_reorder, [below])
    assert [row.suggested_quantity for row in suggestions(sessions)] == [Decimal(3)]  # 2 on hand: back to 5


def test_an_oversold_shelf_suggests_the_shortfall_plus_the_target(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 1})
    sale_id = post(sessions, sale("r1", [("MUG", "3")], [("CARD", "38.70")]))  # pos oversell: allowed
    follow_up(sessions, run_reorder, [sale_id])
    assert [(row.on_hand, row.suggested_quantity) for row in suggestions(sessions)] == [(Decimal(-2), Decimal(22))]


def test_one_reorder_run_handles_a_set_of_sales_across_outlets(sessions):
    with sessions.begin() as s:
        shop = make_shop(s, stock={"MUG": 6})
    orchard = post(sessions, sale("r1", [("MUG", "2")], [("CARD", "25.80")]))
    web = post(sessions, sale("r2", [("MUG", "1")], [("CARD", "12.90")], outlet="WEB", channel="web", cashier=None))
    assert follow_up(sessions, run_reorder, [web, orchard]) == 2
    assert {(row.outlet_id, row.on_hand, row.suggested_quantity) for row in suggestions(sessions)} == {
        (shop.outlet_ids["ORCH"], Decimal(4), Decimal(16)),
        (shop.outlet_ids["WEB"], Decimal(5), Decimal(15)),
    }


# Loyalty -----------------------------------------------------------------------------------------


def test_a_customer_sale_earns_a_point_per_ten_dollars_and_a_small_one_is_still_in_the_ledger(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10, "TEA": 10})
    big = post(sessions, sale("r1", [("MUG", "3")], [("CARD", "38.70")], customer="C001"))  # 3.87 -> 3 points
    small = post(sessions, sale("r2", [("TEA", "1")], [("CARD", "4.50")], customer="C001"))  # 0.45 -> 0 points
    assert follow_up(sessions, run_loyalty, [big, small]) == 2
    assert ledger(sessions) == (3, [3, 0])


def test_a_walk_in_sale_writes_nothing_to_the_loyalty_ledger(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "3")], [("CARD", "38.70")]))
    assert follow_up(sessions, run_loyalty, [sale_id]) == 1
    assert ledger(sessions) == (0, [])


def test_a_rate_of_five_dollars_a_point_doubles_the_points(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10}, dollars_per_point=Decimal(5))
    sale_id = post(sessions, sale("r1", [("MUG", "3")], [("CARD", "38.70")], customer="C001"))
    follow_up(sessions, run_loyalty, [sale_id])
    assert ledger(sessions) == (7, [7])


def test_a_return_takes_back_what_the_remainder_of_its_sale_stops_earning(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    # 10 mugs at 12.90 less a 30.00 discount: 99.00 earns 9 points
    bought = sale("r1", [("MUG", "10")], [("CARD", "99.00")], customer="C001")
    bought["lines"][0]["discount"] = "30"
    sale_id = post(sessions, bought)
    follow_up(sessions, run_loyalty, [sale_id])
    # 3 back at the 9.90 each that was paid (29.70): the 69.30 left earns 6, so 3 points back;
    # the customer comes from the original sale
    first = post(sessions, sale("b1", [("MUG", "3")], [("CARD", "29.70")], kind="return", original_request_id="r1"))
    follow_up(sessions, run_loyalty, [first])
    assert ledger(sessions) == (6, [9, -3])
    # The other 7 (69.30): nothing is left to earn, so the rest of the sale's 9 points
    rest = post(sessions, sale("b2", [("MUG", "7")], [("CARD", "69.30")], kind="return", original_request_id="r1"))
    follow_up(sessions, run_loyalty, [rest])
    assert ledger(sessions) == (0, [9, -3, -6])


def test_a_return_without_its_original_sale_takes_back_by_its_own_total(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    bought = post(sessions, sale("r1", [("MUG", "5")], [("CARD", "64.50")], customer="C001"))
    back = post(sessions, sale("b1", [("MUG", "2")], [("CARD", "25.80")], kind="return", customer="C001"))
    follow_up(sessions, run_loyalty, [bought, back])
    assert ledger(sessions) == (4, [6, -2])


def test_a_return_counted_before_its_sale_takes_back_only_what_the_sale_will_earn(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    bought = sale("r1", [("MUG", "10")], [("CARD", "99.00")], customer="C001")
    bought["lines"][0]["discount"] = "30"
    sale_id = post(sessions, bought)
    # The whole sale comes back, refunded at what was paid (99.00)
    back = post(sessions, sale("b1", [("MUG", "10")], [("CARD", "99.00")], kind="return", original_request_id="r1"))
    follow_up(sessions, run_loyalty, [back])
    follow_up(sessions, run_loyalty, [sale_id])
    assert ledger(sessions) == (0, [9, -9])


def test_a_sale_and_its_full_return_in_one_set_cancel_out(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "10")], [("CARD", "129.00")], customer="C001"))
    back = post(sessions, sale("b1", [("MUG", "10")], [("CARD", "129.00")], kind="return", original_request_id="r1"))
    assert follow_up(sessions, run_loyalty, [back, sale_id]) == 2
    assert ledger(sessions) == (0, [12, -12])


# Idempotency and the sweeper ---------------------------------------------------------------------


def test_running_every_follow_up_twice_changes_nothing(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10, "TEA": 10})
    ids = [
        post(sessions, sale("r1", [("MUG", "6"), ("TEA", "1")], [("CASH", "82.00")], customer="C001")),
        post(sessions, sale("r2", [("TEA", "2")], [("CASH", "10")])),
        post(sessions, sale("b1", [("MUG", "1")], [("CASH", "12.90")], kind="return", original_request_id="r1")),
    ]
    assert [follow_up(sessions, run, ids) for run in (run_reorder, run_loyalty, run_receipts)] == [3, 3, 3]
    with sessions() as s:
        before = table_contents(s)
    assert [follow_up(sessions, run, ids) for run in (run_reorder, run_loyalty, run_receipts)] == [0, 0, 0]
    with sessions() as s:
        after = table_contents(s)
    assert after == before
    assert before["receipts"] and before["loyalty_entries"] and before["reorder_suggestions"]


def test_a_set_mixing_done_and_new_sales_processes_only_the_new_ones(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    first = post(sessions, sale("r1", [("MUG", "1")], [("CARD", "12.90")], customer="C001"))
    follow_up(sessions, run_loyalty, [first])
    second = post(sessions, sale("r2", [("MUG", "1")], [("CARD", "12.90")], customer="C001"))
    assert follow_up(sessions, run_loyalty, [first, second]) == 1
    assert ledger(sessions) == (2, [1, 1])


def test_the_sweeper_sees_undone_follow_ups_by_kind_once_they_are_old_enough(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    first = post(sessions, sale("r1", [("MUG", "1")], [("CARD", "12.90")]))
    second = post(sessions, sale("r2", [("MUG", "1")], [("CARD", "12.90")]))
    follow_up(sessions, run_reorder, [first])
    with sessions() as s:
        assert open_follow_ups(s, timedelta(0), 100) == {
            "LOYALTY": [first, second],
            "CUSTOMER_RECEIPT": [first, second],
            "REORDER": [second],
        }
        assert open_follow_ups(s, timedelta(hours=1), 100) == {}
        assert open_follow_ups(s, timedelta(0), 2) == {"LOYALTY": [first], "CUSTOMER_RECEIPT": [first]}


# Receipts ----------------------------------------------------------------------------------------


def test_a_member_sale_at_two_rates_is_a_full_tax_invoice_with_gst_per_rate_rounding_tenders_and_points(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10, "TEA": 10, "BOOK": 10})
        s.execute(update(Customer).values(address="12 Clementi Road\n#03-01\nSingapore 129000"))
    # Tea 2 x 4.50 = 9.00 (GST 0.74), Mug 1 x 12.92 (GST 1.07), Book 20.00 zero-rated: at 9%, 21.92
    # of which 1.81 GST, so 20.11 before GST; 41.92 in cash rounds to 41.90; 50.00 tendered, 8.10
    # change; 4 points. Two rates: never a simplified tax invoice, and the member is known: a full one.
    # 23:30 UTC is 07:30 next day in Singapore.
    sale_id = post(
        sessions,
        sale(
            "r1",
            [("TEA", "2"), ("MUG", "1", "12.92"), ("BOOK", "1")],
            [("CASH", "50")],
            customer="C001",
            occurred_at="2025-02-28T23:30:00+00:00",
        ),
    )
    assert follow_up(sessions, run_receipts, [sale_id]) == 1
    number = transaction_number(sessions, sale_id)
    assert (
        receipt(sessions, sale_id)
        == f"""\
               ACME Pte Ltd
             UEN: 201912345K
          GST Reg No: M90312345X
                ACME ORCH
      1 ORCH Road, Singapore 238801

               TAX INVOICE

Transaction: {number}
Date: 01/03/2025 07:30
Cashier: Amy Tan

Customer: Ben Lim (C001)
12 Clementi Road
#03-01
Singapore 129000

Tea (9% GST)
  2 x S$4.50                        S$9.00
  excl. GST                         S$8.26
Mug (9% GST)
  1 x S$12.92                      S$12.92
  excl. GST                        S$11.85
Book (0% GST)
  1 x S$20.00                      S$20.00
  excl. GST                        S$20.00

Supplies at 9%, excl. GST          S$20.11
Supplies at 0%, excl. GST          S$20.00
Total excl. GST                    S$40.11
GST at 9%                           S$1.81
GST at 0%                           S$0.00
Rounding                           -S$0.02
TOTAL incl. GST                    S$41.90

CASH                               S$50.00
Change                              S$8.10

Member: Ben Lim (C001)
Points earned: 4
Points balance: 4
"""
    )


def test_the_html_receipt_escapes_what_the_catalogue_says(sessions):
    with sessions.begin() as s:
        make_shop(s, products={"MUG": {"price": Decimal("12.90"), "name": "Mug <b>&"}}, stock={"MUG": 5})
    sale_id = post(sessions, sale("r1", [("MUG", "1")], [("CARD", "12.90")]))
    follow_up(sessions, run_receipts, [sale_id])
    html = receipt(sessions, sale_id, html=True)
    assert '<td colspan="2">Mug &lt;b&gt;&amp;</td>' in html
    assert "<b>" not in html
    assert "Mug <b>&\n" in receipt(sessions, sale_id)


def test_a_company_pricing_without_gst_adds_it_to_the_total_on_the_receipt(sessions):
    with sessions.begin() as s:
        make_shop(s, prices_include_gst=False, stock={"MUG": 5})
    # 2 x 12.90 = 25.80 plus 9% GST 2.32 (2.322) = 28.12
    sale_id = post(sessions, sale("r1", [("MUG", "2")], [("CARD", "28.12")]))
    follow_up(sessions, run_receipts, [sale_id])
    text = receipt(sessions, sale_id)
    assert (
        "Subtotal                           S$25.80\nGST 9%: S$2.32\nTOTAL                              S$28.12\n"
        in text
    )
    assert "Total includes" not in text


def test_each_gst_rate_gets_its_own_line(sessions):
    with sessions.begin() as s:
        make_shop(
            s, products={"TEA": {"price": Decimal("4.50")}, "OLD": {"price": Decimal("10.80"), "gst_rate": Decimal(8)}}
        )
    # Tea 4.50 includes 0.37 at 9%; the old-rate item 10.80 includes 0.80 at 8%
    sale_id = post(sessions, sale("r1", [("TEA", "1"), ("OLD", "1")], [("CARD", "15.30")]))
    follow_up(sessions, run_receipts, [sale_id])
    assert (
        "TOTAL                              S$15.30\nTotal includes 8% GST S$0.80\nTotal includes 9% GST S$0.37\n"
        in (receipt(sessions, sale_id))
    )


def test_a_return_receipt_is_a_credit_note_for_the_original_invoice(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "5")], [("CARD", "64.50")], customer="C001"))
    back = post(sessions, sale("b1", [("MUG", "2")], [("CARD", "25.80")], kind="return", original_request_id="r1"))
    assert follow_up(sessions, run_receipts, [sale_id, back]) == 2
    text = receipt(sessions, back)
    assert "CREDIT NOTE" in text and "TAX INVOICE" not in text
    assert f"Original invoice: {transaction_number(sessions, sale_id)} of 01/03/2025\n" in text
    assert "Reason: goods returned\n" in text
    assert "  2 x S$12.90                     -S$25.80\n" in text
    assert "GST at 9%                          -S$2.13\n" in text  # 25.80 x 9 / 109 = 2.1302
    # The sale earned 6 points (64.50); the 38.70 left earns 3, so the return takes back 3; each receipt
    # shows its own moment
    assert "Points taken back: 3\nPoints balance: 3\n" in text
    assert "Points earned: 6\nPoints balance: 6\n" in receipt(sessions, sale_id)


def test_a_walk_in_receipt_shows_no_points(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "1")], [("NETS", "12.90")]))
    follow_up(sessions, run_receipts, [sale_id])
    text = receipt(sessions, sale_id)
    assert "NETS                               S$12.90\n" in text
    assert "Points" not in text and "Member" not in text


def test_asking_for_a_receipt_that_was_never_made_raises_not_found(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "1")], [("CARD", "12.90")]))
    number = transaction_number(sessions, sale_id)
    with sessions() as s, pytest.raises(NotFound):
        receipt_for(s, number)
    with sessions() as s, pytest.raises(NotFound):
        receipt_for(s, "NO-SUCH-NUMBER", html=True)


# Sets and concurrency ----------------------------------------------------------------------------


def statements_of(sessions, run, sale_ids):
    """How many SQL statements one follow-up run sends."""
    sent = []
    engine = sessions.kw["bind"]

    def count(*_):
        sent.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        follow_up(sessions, run, sale_ids)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(sent)


def test_a_follow_up_over_many_sales_sends_no_more_statements_than_over_two(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 100, "TEA": 100})
    ids = [
        post(sessions, sale(f"r{n}", [("MUG", "1"), ("TEA", "1")], [("CASH", "17.40")], customer="C001"))
        for n in range(30)
    ]
    for run in (run_reorder, run_loyalty, run_receipts):
        assert statements_of(sessions, run, ids[:2]) == statements_of(sessions, run, ids[2:])


def test_a_worker_running_the_same_sales_while_another_holds_them_waits_and_then_does_nothing(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10})
    ids = [post(sessions, sale(f"r{n}", [("MUG", "1")], [("CARD", "12.90")], customer="C001")) for n in range(3)]
    with ThreadPoolExecutor(1) as pool, sessions.begin() as first:
        # Given one worker mid-way through these sales (rows locked, not yet committed)
        assert run_loyalty(first, ids) == 3
        # When a redelivered message runs them on a second worker
        second = pool.submit(follow_up, sessions, run_loyalty, list(reversed(ids)))
        time.sleep(0.3)
        assert not second.done()  # it waits for the first worker's locks
    # Then, once the first commits, the second finds them done and changes nothing
    assert second.result(timeout=10) == 0
    assert ledger(sessions) == (3, [1, 1, 1])


@pytest.mark.pipeline
def test_the_follow_ups_of_sales_posted_one_at_a_time_are_drained_together(sessions, start_worker):
    """Web orders and single submissions post one sale a message: their follow-ups are not sent one
    sale a message (a message and four transactions each) but drained in sets."""
    from frontends.ledger import Ledger
    from tests.workers import wait_until

    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 500})
    worker = start_worker(concurrency=2)
    ledger = Ledger(sessions)
    ids = []
    for n in range(30):  # one message each, as the intake sends a web order
        ids += ledger.submit([sale(f"ONE-{n}", [("TEA", "10")], [("CASH", "45.00")], customer="C001")])
    assert ledger.wait(ids, timeout=120)

    def all_done():
        with sessions() as s:
            open_rows = s.execute(select(FollowUp.sale_id).where(FollowUp.done_at.is_(None))).all()
            return not open_rows and s.scalar(select(func.count()).select_from(FollowUp)) == 90

    wait_until(all_done, timeout=60, what="every follow-up of the 30 sales to be done")
    with sessions() as s:
        assert s.scalar(select(func.sum(LoyaltyEntry.points))) == 30 * 4  # 4 points a 45.00 sale, each once
    log = worker.log.read_text()
    drains = log.count("tasks.followups.drain_follow_ups[") // 2  # received + succeeded
    assert "tasks.followups.every_follow_up[" not in log
    assert 1 <= drains < 30, f"{drains} drains for 30 sales"


def test_a_drain_leaves_a_follow_up_that_already_failed_to_its_own_backoff(sessions):
    from domain.followups.outbox import never_tried

    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 50})
    first, second = post(sessions, sale("T-1", [("TEA", "1")], [("CASH", "4.50")])), None
    second = post(sessions, sale("T-2", [("TEA", "1")], [("CASH", "4.50")]))
    with sessions.begin() as s:
        s.execute(update(FollowUp).where(FollowUp.sale_id == first, FollowUp.kind == "LOYALTY").values(attempts=1))
        assert never_tried(s, 10) == [second]  # the first sale has a counted failure: its retry runs it
        s.execute(update(FollowUp).where(FollowUp.sale_id == second).values(done_at=func.now()))
        assert never_tried(s, 10) == []
