"""Web orders posted through the use cases (services.intake.receive + services.posting.post_request)
on a company in USD whose prices exclude tax, like the fixtures' shops; and `tillpost web import`
through real workers. Every fixture in ../shared/fixtures ends in its documented outcome."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from domain.tables import Customer, SaleRequestRow
from frontends.web import shopify_delivery, with_customer, woocommerce_delivery
from services.intake import customer_by_email, receive
from services.posting import post_request
from tests.batch_support import tillpost
from tests.conftest import shared_path
from tests.intake_support import woo_order
from tests.shop import make_shop, on_hand

PRODUCTS = {
    "IPOD2008GREEN": {"price": Decimal("199.00"), "gst_rate": Decimal(6)},
    "IPOD2008RED": {"price": Decimal("199.00"), "gst_rate": Decimal(6)},
    "IPOD2008BLACK": {"price": Decimal("199.00"), "gst_rate": Decimal(6)},
    "Bar3": {"price": Decimal("12.00"), "gst_rate": Decimal("7.5")},
    "TEA": {"price": Decimal("10.00"), "gst_rate": Decimal(9)},
    "MUG": {"price": Decimal("5.50"), "gst_rate": Decimal(9)},
    "SHIPPING": {"price": Decimal("0"), "gst_rate": Decimal(9), "track_inventory": False},
    "WEB-FEE": {"price": Decimal("0"), "gst_rate": Decimal(9), "track_inventory": False},
}
NON_STOCK = ("SHIPPING", "WEB-FEE")


def usd_shop(sessions: Any) -> Any:
    with sessions.begin() as s:
        return make_shop(
            s,
            currency="USD",
            prices_include_gst=False,
            products=PRODUCTS,
            stock={k: 10 for k in PRODUCTS if k not in NON_STOCK},
        )


def fixture(platform: str, name: str) -> Any:
    return json.loads(shared_path("fixtures", platform, name).read_text())


def post_all(sessions: Any, requests: list[dict[str, Any]]) -> list[Any]:
    """Receive and post each request; the recorded intake rows, in order."""
    rows = []
    for intake_id in receive(sessions, requests):
        post_request(sessions, intake_id)
        with sessions() as s:
            rows.append(s.execute(select(SaleRequestRow).where(SaleRequestRow.id == intake_id)).scalar_one())
    return rows


def outcome(row: Any) -> tuple[str, str, str | None]:
    return (row.request_id, row.outcome, row.reason)


# (platform, file, topic, what each request ends in); the report's table says why.
FIXTURES = [
    ("shopify", "python_api_order.json", "orders/create", [("shopify:450789469", "REJECTED", "TENDER_SHORT")]),
    ("shopify", "python_api_orders.json", "orders/create", []),  # partially_refunded: nothing posted
    (
        "shopify",
        "python_api_refund.json",
        "refunds/create",
        [("shopify:refund:509562969", "REJECTED", "UNKNOWN_ORIGINAL")],
    ),
    ("shopify", "ruby_api_order_with_properties.json", "orders/create", [("shopify:450789469", "REJECTED", "INVALID")]),
    ("woocommerce", "order_create_response.json", "order.created", [("woocommerce:727", "REJECTED", "INVALID")]),
    (
        "woocommerce",
        "order_refund_create_response.json",
        "order.updated",
        [("woocommerce:refund:726", "REJECTED", "UNMAPPED_REFUND")],
    ),
    (
        "woocommerce",
        "orders_list_response.json",
        "order.updated",
        [
            ("woocommerce:727", "REJECTED", "INVALID"),
            ("woocommerce:723", "REJECTED", "INVALID"),
            ("woocommerce:refund:726", "REJECTED", "UNMAPPED_REFUND"),
            ("woocommerce:refund:724", "REJECTED", "UNMAPPED_REFUND"),
        ],
    ),
]


@pytest.mark.parametrize(("platform", "name", "topic", "expected"), FIXTURES, ids=[f[1] for f in FIXTURES])
def test_each_fixture_ends_in_its_documented_outcome(sessions, platform, name, topic, expected):
    usd_shop(sessions)
    data = fixture(platform, name)
    items = data.get("orders", [data]) if isinstance(data, dict) else data
    deliver = shopify_delivery if platform == "shopify" else woocommerce_delivery
    requests = [r for item in items for r in deliver(topic, item, "WEB").requests]

    rows = post_all(sessions, requests)

    assert [outcome(r) for r in rows] == expected
    assert all(r.message for r in rows)
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM sales")) == 0


def test_the_shopify_fixture_made_consistent_posts_and_its_refund_fixture_returns_two_of_its_lines(sessions):
    shop = usd_shop(sessions)
    order = fixture("shopify", "python_api_order.json")
    order["order"]["total_price"] = "632.82"  # 3 x 199.00 + 6% tax: what the ledger computes
    (sale,) = post_all(sessions, shopify_delivery("orders/create", order, "WEB").requests)
    assert outcome(sale) == ("shopify:450789469", "POSTED", None)

    refund = fixture("shopify", "python_api_refund.json")
    (short,) = post_all(sessions, shopify_delivery("refunds/create", refund, "WEB").requests)
    assert outcome(short) == ("shopify:refund:509562969", "REJECTED", "TENDER_SHORT")
    assert "209.00" in short.message and "421.88" in short.message  # both figures

    consistent = copy.deepcopy(refund)
    consistent["refund"]["id"] = 509562970
    consistent["refund"]["transactions"][0]["amount"] = "421.88"
    (returned,) = post_all(sessions, shopify_delivery("refunds/create", consistent, "WEB").requests)
    assert outcome(returned) == ("shopify:refund:509562970", "POSTED", None)
    with sessions() as s:
        levels = {sku: on_hand(s, shop.outlet_ids["WEB"], shop.product_ids[sku]) for sku in list(PRODUCTS)[:3]}
        totals = s.execute(text("SELECT request_id, total FROM sales ORDER BY id")).all()
    assert levels == {"IPOD2008GREEN": 10, "IPOD2008RED": 9, "IPOD2008BLACK": 10}
    assert [(r, str(t)) for r, t in totals] == [
        ("shopify:450789469", "632.82"),
        ("shopify:refund:509562970", "-421.88"),
    ]


def consistent_order(**fields: Any) -> dict[str, Any]:
    order = {
        "id": 5001,
        "created_at": "2025-03-01T10:15:00+08:00",
        "currency": "USD",
        "taxes_included": False,
        "financial_status": "paid",
        "total_price": "32.16",
        "payment_gateway_names": ["shopify_payments"],
        "line_items": [
            {"sku": "TEA", "quantity": 2, "price": "10.00", "discount_allocations": [{"amount": "2.00"}]},
            {"sku": "MUG", "quantity": 1, "price": "5.50"},
        ],
        "shipping_lines": [{"price": "8.00", "discounted_price": "6.00"}],
    }
    return {**order, **fields}


def test_a_consistent_order_with_discounts_shipping_and_gst_posts_exactly(sessions):
    shop = usd_shop(sessions)
    (row,) = post_all(sessions, shopify_delivery("orders/paid", consistent_order(), "WEB").requests)

    assert outcome(row) == ("shopify:5001", "POSTED", None)
    with sessions() as s:
        sale = s.execute(text("SELECT subtotal, tax, total, change_due, channel FROM sales")).one()
        lines = s.execute(text("SELECT amount, tax FROM sale_lines ORDER BY line_no")).all()
        tea, mug = (on_hand(s, shop.outlet_ids["WEB"], shop.product_ids[k]) for k in ("TEA", "MUG"))
        shipping_moves = s.scalar(
            text("SELECT count(*) FROM stock_movements WHERE product_id = :p"), {"p": shop.product_ids["SHIPPING"]}
        )
    # TEA 2 x 10.00 - 2.00 = 18.00 (GST 1.62); MUG 5.50 (0.495 -> 0.50); shipping 8.00 - 2.00 = 6.00 (0.54)
    assert [str(v) for v in sale[:4]] == ["29.50", "2.66", "32.16", "0.00"] and sale.channel == "web"
    assert [(str(a), str(t)) for a, t in lines] == [("18.00", "1.62"), ("5.50", "0.50"), ("6.00", "0.54")]
    assert (tea, mug, shipping_moves) == (8, 9, 0)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"currency": "SGD"}, "CURRENCY_MISMATCH"),
        ({"taxes_included": True}, "TAX_MODE_MISMATCH"),
        ({"total_price": "40.00"}, "TENDER_MISMATCH"),
    ],
)
def test_an_order_in_another_currency_tax_mode_or_total_is_rejected_and_leaves_no_trace(sessions, fields, reason):
    usd_shop(sessions)
    (row,) = post_all(sessions, shopify_delivery("orders/create", consistent_order(**fields), "WEB").requests)
    assert (row.outcome, row.reason) == ("REJECTED", reason)
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM sales")) == 0


@pytest.mark.pipeline
def test_web_import_twice_records_each_order_once_and_the_second_run_changes_nothing(
    sessions, start_worker, pipeline_env
):
    usd_shop(sessions)
    start_worker(concurrency=1)
    path = str(shared_path("fixtures", "woocommerce", "orders_list_response.json"))

    first = tillpost(pipeline_env, "web", "import", path, "--platform", "woocommerce", "--wait", "--json")
    assert first.returncode == 0, first.stderr
    assert sorted((d["request_id"], d["outcome"], d["reason"]) for d in json.loads(first.stdout)) == [
        ("woocommerce:723", "REJECTED", "INVALID"),
        ("woocommerce:727", "REJECTED", "INVALID"),
        ("woocommerce:refund:724", "REJECTED", "UNMAPPED_REFUND"),
        ("woocommerce:refund:726", "REJECTED", "UNMAPPED_REFUND"),
    ]
    with sessions() as s:
        before = s.execute(text("SELECT id, outcome, reason, attempts FROM sale_requests ORDER BY id")).all()

    second = tillpost(pipeline_env, "web", "import", path, "--platform", "woocommerce", "--wait", "--json")

    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == [] and "0 new request(s) recorded, 4 already recorded" in second.stderr
    with sessions() as s:
        assert s.execute(text("SELECT id, outcome, reason, attempts FROM sale_requests ORDER BY id")).all() == before


def with_customers(sessions: Any, shop: Any, emails: dict[str, str | None]) -> None:
    with sessions.begin() as s:
        for code, email in emails.items():
            s.execute(insert(Customer).values(company_id=shop.company_id, code=code, name=code, email=email))


def deliver_matched(sessions: Any, deliver: Any, topic: str, payload: dict[str, Any]) -> list[Any]:
    """A delivery as the intake takes it: mapped, its customer found by e-mail, received and posted."""
    delivery = with_customer(deliver(topic, payload, "WEB"), lambda e: customer_by_email(sessions, "WEB", e))
    return post_all(sessions, delivery.requests)


def test_a_web_order_earns_loyalty_for_the_one_customer_with_its_email_and_is_a_walk_in_otherwise(sessions):
    # Given customers, one stored with spaces and capitals, two sharing an address, one with none
    shop = usd_shop(sessions)
    with_customers(
        sessions,
        shop,
        {"ANN": "  Ann.Lee@Example.COM ", "TWIN1": "twin@example.com", "TWIN2": "TWIN@example.com", "NOMAIL": None},
    )
    orders = {
        5101: {"email": "ann.lee@example.com  "},  # the customer, whatever the case and spaces
        5102: {"email": None, "customer": {"email": "ANN.LEE@EXAMPLE.COM"}},  # customer.email when no email
        5103: {"email": "twin@example.com"},  # two customers share it: never a guess
        5104: {"email": "stranger@example.com"},  # nobody has it
        5105: {"email": "'; DROP TABLE customers; --@x"},  # any text is only compared
    }

    # When each paid order is delivered
    for order_id, fields in orders.items():
        (row,) = deliver_matched(sessions, shopify_delivery, "orders/paid", consistent_order(id=order_id, **fields))
        assert row.outcome == "POSTED", (order_id, row.message)

    # Then only the one customer with that e-mail is credited, with the points the sale earns
    with sessions() as s:
        credited = s.execute(
            text("SELECT s.request_id, c.code FROM sales s LEFT JOIN customers c ON c.id = s.customer_id ORDER BY s.id")
        ).all()
    assert [tuple(r) for r in credited] == [
        ("shopify:5101", "ANN"),
        ("shopify:5102", "ANN"),
        ("shopify:5103", None),
        ("shopify:5104", None),
        ("shopify:5105", None),
    ]
    assert customer_by_email(sessions, "WEB", "twin@example.com") is None
    assert customer_by_email(sessions, "NOWHERE", "ann.lee@example.com") is None  # another outlet: no company


def test_a_woocommerce_order_with_a_fee_posts_it_as_a_web_fee_line_and_its_cancellation_returns_it_all(sessions):
    shop = usd_shop(sessions)
    (sale,) = post_all(sessions, woocommerce_delivery("order.updated", woo_order(), "WEB").requests)
    assert outcome(sale) == ("woocommerce:880", "POSTED", None)

    # When the paid order is cancelled (order.updated, status cancelled), delivered twice
    cancelled = woo_order(status="cancelled")
    rows = [
        r
        for _ in range(2)
        for r in post_all(sessions, woocommerce_delivery("order.updated", cancelled, "WEB").requests)
    ]

    # Then it is one full return of its lines, shipping and fee, and the stock is back
    assert [outcome(r) for r in rows] == [
        ("woocommerce:cancel:880", "POSTED", None),
        ("woocommerce:cancel:880", "DUPLICATE", None),
    ]
    with sessions() as s:
        sales = s.execute(text("SELECT request_id, kind, total FROM sales ORDER BY id")).all()
        fee_lines = s.scalar(
            text("SELECT count(*) FROM sale_lines WHERE product_id = :p"), {"p": shop.product_ids["WEB-FEE"]}
        )
        tea = on_hand(s, shop.outlet_ids["WEB"], shop.product_ids["TEA"])
    assert [(r, k, str(t)) for r, k, t in sales] == [
        ("woocommerce:880", "sale", "29.43"),
        ("woocommerce:cancel:880", "return", "-29.43"),
    ]
    assert (fee_lines, tea) == (2, 10)


def test_a_woocommerce_order_cancelled_before_payment_posts_nothing(sessions):
    usd_shop(sessions)
    delivery = woocommerce_delivery("order.updated", woo_order(status="cancelled", date_paid_gmt=None), "WEB")
    assert delivery.requests == [] and "cancelled before payment" in delivery.note


@pytest.mark.parametrize(
    ("platform", "topic", "payload", "request_id", "words"),
    [
        (
            "woocommerce",
            "order.updated",
            woo_order(fee_lines=[{"name": "Promo", "total": "-3.00", "total_tax": "-0.27"}]),
            "woocommerce:880",
            "negative fee (Promo -3.00)",
        ),
        (
            "shopify",
            "refunds/create",
            {"id": 9, "order_id": 5001, "refund_line_items": [{"quantity": 0, "line_item": {"sku": "TEA"}}]},
            "shopify:refund:9",
            "refunds nothing",
        ),
        (
            "woocommerce",
            "order.updated",
            woo_order(status="completed", refunds=[{"id": 14, "total": "0.00"}]),
            "woocommerce:refund:14",
            "refunds nothing (amount 0)",
        ),
    ],
)
def test_a_negative_fee_or_a_refund_of_nothing_is_rejected_invalid_saying_why_and_posts_nothing(
    sessions, platform, topic, payload, request_id, words
):
    usd_shop(sessions)
    (sale,) = post_all(sessions, shopify_delivery("orders/paid", consistent_order(), "WEB").requests)
    assert sale.outcome == "POSTED"
    deliver = shopify_delivery if platform == "shopify" else woocommerce_delivery

    rows = post_all(sessions, deliver(topic, payload, "WEB").requests)

    (row,) = [r for r in rows if r.request_id == request_id]
    assert (row.outcome, row.reason) == ("REJECTED", "INVALID")
    assert words in row.message
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM sales WHERE request_id = :r"), {"r": request_id}) == 0
