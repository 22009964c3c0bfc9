from decimal import Decimal

from tests.shop import make_shop, on_hand, sale, submit_and_post


def test_a_cash_sale_posts_with_rounding_and_moves_stock(sessions):
    with sessions.begin() as s:
        shop = make_shop(s, stock={"TEA": 10, "MUG": 10})
    posted = submit_and_post(sessions, sale("r1", [("TEA", "2"), ("MUG", "1")], [("CASH", "30")]))
    assert posted.outcome == "POSTED"
    with sessions.begin() as s:
        assert on_hand(s, shop.outlet_ids["ORCH"], shop.product_ids["TEA"]) == Decimal(8)
