"""The benchmark's large day shape and its profile summary: what the figures are measured on must be the
day the issue describes, the same every run, and every request a sale that posts."""

import json
import random
from collections import Counter
from decimal import Decimal

import pytest

from benchmarks.insight import own_time
from benchmarks.shapes import large_day, large_shop, pick_distinct, zipf_weights
from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.request import parse_request


@pytest.fixture(scope="module")
def shop():
    return large_shop()


@pytest.fixture(scope="module")
def day(shop):
    return [json.loads(line) for line in large_day(400, seed=3, shop=shop)]


def test_the_large_shop_has_the_chains_size(shop):
    assert len(shop["products"]) == 5_000
    assert len(shop["customers"]) == 20_000
    assert len(shop["outlets"]) == 8
    tracked = sum(p["track_inventory"] == "true" for p in shop["products"])
    assert len(shop["stock"]) == 8 * tracked


def test_the_same_seed_gives_the_same_day_and_another_seed_another(shop):
    first = list(large_day(50, seed=3, shop=shop))
    assert first == list(large_day(50, seed=3, shop=shop))
    assert first != list(large_day(50, seed=4, shop=shop))


def test_every_request_is_a_sale_of_1_to_8_distinct_products_at_the_catalogue_price_that_prices(shop, day):
    catalogue = {p["sku"]: p for p in shop["products"]}
    infos = {
        sku: ProductInfo(n, sku, p["name"], Decimal(p["price"]), Decimal(p["gst_rate"]), True)
        for n, (sku, p) in enumerate(catalogue.items())
    }
    for request in day:
        skus = [line["sku"] for line in request["lines"]]
        assert 1 <= len(skus) <= 8 and len(set(skus)) == len(skus)
        assert all(Decimal(line["unit_price"]) == Decimal(catalogue[line["sku"]]["price"]) for line in request["lines"])
        price_sale(parse_request(json.dumps(request)), infos, prices_include_gst=True)  # raises if it would reject


def test_about_four_in_ten_sales_are_paid_in_cash_rounded_to_five_cents(day):
    cash = [r["tenders"][0]["amount"] for r in day if r["tenders"][0]["method"] == "CASH"]
    assert 0.3 < len(cash) / len(day) < 0.5
    assert all(Decimal(amount) % Decimal("0.05") == 0 for amount in cash)


def test_popularity_is_skewed_the_top_product_sells_far_more_than_the_median(day):
    sold = Counter(line["sku"] for request in day for line in request["lines"])
    counts = sorted(sold.values(), reverse=True)
    assert counts[0] > 20 * counts[len(counts) // 2]


def test_zipf_weights_follow_one_over_rank_and_picks_are_distinct():
    cumulative = zipf_weights(4)
    assert cumulative == pytest.approx([1, 1.5, 1.5 + 1 / 3, 1.5 + 1 / 3 + 0.25])
    picks = pick_distinct(random.Random(1), cumulative, 4)
    assert sorted(picks) == [0, 1, 2, 3]


def test_own_time_credits_each_stack_to_its_innermost_frame():
    collapsed = [
        "main (a.py:1);post (b.py:2);wait (psycopg/connection.py:9) 6",
        "main (a.py:1);post (b.py:3);wait (psycopg/connection.py:9) 2",
        "main (a.py:1);price (/x/site-packages/domain/pricing.py:4) 2",
        "a malformed line",
    ]
    assert own_time(collapsed) == [
        ("wait (psycopg/connection.py)", 8, 0.8),
        ("price (domain/pricing.py)", 2, 0.2),
    ]
