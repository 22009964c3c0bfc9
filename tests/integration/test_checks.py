"""Ledger checks: silent on a healthy ledger, and in a shop manager's words when something is off."""

from decimal import Decimal

import pytest
from sqlalchemy import insert, select, text

from domain.batches.entries import Entry
from domain.checks import Violation, check_ledger
from domain.followups.outbox import run_loyalty, run_receipts, run_reorder
from domain.tables import ReorderSuggestion, SaleRequestRow
from domain.vocabulary import FollowUpKind
from services.batches import stage_batch
from services.followups import run_follow_up
from services.posting import post_chunk
from tests.followup_support import follow_up, post, transaction_number
from tests.shop import make_shop, sale


def violations(sessions):
    with sessions() as s:
        return check_ledger(s)


def corrupt(sessions, sql):
    with sessions.begin() as s:
        s.execute(text(sql))


def shop_with_one_sale(sessions):
    """ACME with 10 mugs at ORCH, of which customer C001 bought 2 (25.80 by card, 2 points)."""
    with sessions.begin() as s:
        shop = make_shop(s, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "2")], [("CARD", "25.80")], customer="C001"))
    follow_up(sessions, run_loyalty, [sale_id])
    return shop, sale_id


def test_a_healthy_ledger_of_two_companies_passes_every_check(sessions):
    # Given one company pricing with GST and one pricing without, sales, cash rounding, returns
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 10, "TEA": 10})
        make_shop(s, code="XCL", prices_include_gst=False, stock={"MUG": 10, "TEA": 10})
    ids = [
        post(sessions, sale("r1", [("MUG", "6"), ("TEA", "1", "4.52")], [("CASH", "90")], customer="C001")),
        post(sessions, sale("b1", [("MUG", "2")], [("CASH", "25.80")], kind="return", original_request_id="r1")),
        # XCL: 1 x 12.90 + 9% GST 1.16 = 14.06, rounded to 14.05 in cash
        post(sessions, sale("r1", [("MUG", "1")], [("CASH", "20")], outlet="XCL-ORCH", customer="C001")),
    ]
    for run in (run_reorder, run_loyalty, run_receipts):
        follow_up(sessions, run, ids)
    # Then no check finds anything
    assert violations(sessions) == []


def test_on_hand_that_drifts_from_its_movements_is_reported_by_outlet_and_sku(sessions):
    shop_with_one_sale(sessions)
    corrupt(sessions, "UPDATE stock_levels SET on_hand = on_hand - 1")
    assert violations(sessions) == [
        Violation("stock", "outlet ORCH sku MUG: on hand 7.000 but movements sum to 8.000"),
        Violation("stock", "outlet WEB sku MUG: on hand 9.000 but movements sum to 10.000"),
    ]


def test_a_missing_stock_level_is_reported_when_movements_exist(sessions):
    shop, _ = shop_with_one_sale(sessions)
    corrupt(sessions, f"DELETE FROM stock_levels WHERE outlet_id = {shop.outlet_ids['ORCH']}")
    assert violations(sessions) == [
        Violation("stock", "outlet ORCH sku MUG: no stock level recorded but movements sum to 8.000"),
    ]


def test_a_balance_that_differs_from_the_loyalty_ledger_is_reported(sessions):
    shop_with_one_sale(sessions)
    corrupt(sessions, "UPDATE customers SET points = points + 5")
    assert violations(sessions) == [
        Violation("loyalty", "company ACME customer C001: balance 7 points but its ledger sums to 2"),
    ]


def test_a_sale_total_that_its_lines_do_not_add_up_to_is_reported(sessions):
    _, sale_id = shop_with_one_sale(sessions)
    corrupt(sessions, "UPDATE sale_lines SET amount = amount + 1")
    number = transaction_number(sessions, sale_id)
    assert violations(sessions) == [
        Violation(
            "sale_total",
            f"sale {number}: total 25.80, subtotal 25.80, GST 2.13, rounding 0.00, but its lines come to 26.80 "
            "with GST 2.13",
        ),
    ]


def test_a_sale_total_without_its_gst_is_reported_for_a_company_pricing_without_gst(sessions):
    with sessions.begin() as s:
        make_shop(s, prices_include_gst=False, stock={"MUG": 10})
    sale_id = post(sessions, sale("r1", [("MUG", "2")], [("CARD", "28.12")]))  # 25.80 + 2.32 GST
    corrupt(sessions, "UPDATE sale_lines SET tax = 0")
    number = transaction_number(sessions, sale_id)
    assert violations(sessions) == [
        Violation(
            "sale_total",
            f"sale {number}: total 28.12, subtotal 25.80, GST 2.32, rounding 0.00, but its lines come to 25.80 "
            "with GST 0.00",
        ),
    ]


def test_tenders_that_do_not_add_up_to_what_was_tendered_are_reported(sessions):
    _, sale_id = shop_with_one_sale(sessions)
    corrupt(sessions, "UPDATE tenders SET amount = amount - 1")
    number = transaction_number(sessions, sale_id)
    assert violations(sessions) == [
        Violation("tendered", f"sale {number}: tendered 25.80 but its tenders sum to 24.80"),
    ]


def test_a_sale_with_no_posted_request_is_reported(sessions):
    _, sale_id = shop_with_one_sale(sessions)
    corrupt(sessions, "DELETE FROM sale_requests")
    number = transaction_number(sessions, sale_id)
    assert violations(sessions) == [
        Violation("intake", f"sale {number} (request r1) has no POSTED request in the intake ledger"),
    ]


def test_a_request_pointing_at_another_requests_sale_is_reported(sessions):
    _, first = shop_with_one_sale(sessions)
    second = post(sessions, sale("r2", [("MUG", "1")], [("CARD", "12.90")]))
    corrupt(sessions, f"UPDATE sale_requests SET sale_id = {second} WHERE request_id = 'r1'")
    one, two = transaction_number(sessions, first), transaction_number(sessions, second)
    assert violations(sessions) == [
        Violation("intake", f"request r1 (intake #1) is POSTED but points at sale {two} of request r2"),
        Violation("intake", f"sale {one} (request r1) has no POSTED request in the intake ledger"),
        Violation("intake", f"sale {two} (request r2) was POSTED by 2 requests in the intake ledger"),
    ]


def test_two_open_reorder_suggestions_for_one_shelf_are_reported(sessions):
    shop, _ = shop_with_one_sale(sessions)
    row = {
        "outlet_id": shop.outlet_ids["ORCH"],
        "product_id": shop.product_ids["MUG"],
        "on_hand": Decimal(3),
        "reorder_point": Decimal(5),
        "suggested_quantity": Decimal(17),
    }
    with sessions() as s:
        # The unique index forbids this; drop it inside a transaction that is rolled back afterwards
        s.execute(text("DROP INDEX uq_reorder_open"))
        s.execute(insert(ReorderSuggestion), [row, row])
        assert check_ledger(s) == [
            Violation("reorder", "outlet ORCH sku MUG: 2 open reorder suggestions, where one at most belongs"),
        ]
        s.rollback()


def test_a_company_changing_its_gst_mode_later_does_not_make_its_old_sales_look_wrong(sessions):
    # Given a sale posted while prices excluded GST
    with sessions.begin() as s:
        make_shop(s, prices_include_gst=False, stock={"MUG": 10})
    post(sessions, sale("r1", [("MUG", "2")], [("CARD", "28.12")]))  # 25.80 + 2.32 GST
    # When the company switches to GST-inclusive prices
    corrupt(sessions, "UPDATE companies SET prices_include_gst = true")
    # Then the old sale still checks out, judged by what was stored with it
    assert violations(sessions) == []


def test_a_follow_up_that_failed_for_good_is_reported_until_it_is_retried(sessions):
    # Given a sale submitted on its own (no batch to show it), whose reorder check failed for good
    _, sale_id = shop_with_one_sale(sessions)
    corrupt(
        sessions,
        "UPDATE follow_ups SET failed_at = now(), attempts = 5, error = 'DataError: numeric field overflow' "
        f"WHERE sale_id = {sale_id} AND kind = 'REORDER'",
    )
    # Then check names it, with what to do
    number = transaction_number(sessions, sale_id)
    assert violations(sessions) == [
        Violation(
            "follow-ups",
            f"sale {number} (request r1): REORDER failed after 5 attempt(s): DataError: numeric field overflow; "
            "fix the cause, then run `tillpost followups retry`",
        )
    ]
    # And once it ran after all, the ledger is sound again
    corrupt(sessions, f"UPDATE follow_ups SET failed_at = NULL, error = NULL WHERE sale_id = {sale_id}")
    follow_up(sessions, run_reorder, [sale_id])
    assert violations(sessions) == []


def posted_batch(sessions):
    """A batch posted to DONE in process: cash with change at ORCH, a card sale at WEB, a rejection."""
    with sessions.begin() as s:
        shop = make_shop(s, stock={"MUG": 10, "TEA": 10})
    day = [
        sale("b1", [("MUG", "1"), ("TEA", "1")], [("CASH", "20.00")]),
        sale("b2", [("TEA", "2")], [("CARD", "9.00")], outlet="WEB", customer="C001"),
        sale("b3", [("NOSUCH", "1")], [("CASH", "5.00")]),
    ]
    batch_id = stage_batch(sessions, "day.jsonl", "day", lambda: [Entry(n, r) for n, r in enumerate(day, 1)]).batch_id
    with sessions() as s:
        ids = list(s.scalars(select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id)))
    posted = post_chunk(sessions, ids).new_sales
    for kind in FollowUpKind:
        run_follow_up(sessions, kind, posted)
    return shop, batch_id


@pytest.mark.parametrize(
    ("corruption", "drifted"),
    [
        ("UPDATE batch_tallies SET n = n + 1 WHERE tally = 'outcome' AND key = 'POSTED'", ["outcome POSTED"]),
        ("UPDATE sales SET tax = tax + 0.01 WHERE request_id = 'b2'", ["outlet {WEB}", "sales"]),
        ("UPDATE sales SET change_due = change_due + 1, tendered = tendered + 1 WHERE request_id = 'b1'", ["change"]),
        ("UPDATE tenders SET amount = amount + 1 WHERE method = 'CARD'", ["tender CARD"]),
        ("UPDATE sale_lines SET amount = amount + 1 WHERE sku = 'TEA'", ["gst_rate 9.00"]),
        ("DELETE FROM batch_tallies WHERE tally = 'follow_ups'", ["follow_ups", "follow_ups settled"]),
    ],
)
def test_a_batch_tally_that_drifted_from_its_rows_is_reported(sessions, corruption, drifted):
    # Given a settled batch whose running tallies were kept by the triggers: check finds nothing
    shop, batch_id = posted_batch(sessions)
    assert violations(sessions) == []
    # When a tally, or a row it counts, is changed behind the triggers' back
    corrupt(sessions, corruption)
    # Then check names the batch and each tally that no longer equals its rows
    found = [v.detail for v in violations(sessions) if v.check == "batch_tally"]
    named = [f"batch {batch_id}: tally {d.format(WEB=shop.outlet_ids['WEB'])} holds" for d in drifted]
    assert [detail.split(" n ")[0] for detail in found] == named
