"""The web-order adapters (frontends/web): a shop's order, refund or cancellation becomes wire-format
requests, and a delivery that cannot be mapped still becomes a request the worker rejects."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import Invalid
from domain.posting.request import UNMAPPED_REFUND_SKU, request_from
from frontends.web import shopify_delivery, with_customer, woocommerce_delivery
from tests.intake_support import woo_order


def shopify_order(**fields: Any) -> dict[str, Any]:
    order = {
        "id": 1001,
        "name": "#1001",
        "created_at": "2025-03-01T10:15:00+08:00",
        "currency": "SGD",
        "taxes_included": True,
        "financial_status": "paid",
        "total_price": "30.00",
        "payment_gateway_names": ["shopify_payments"],
        "line_items": [
            {"sku": "TEA", "quantity": 2, "price": "10.00", "discount_allocations": [{"amount": "2.00"}]},
            {"sku": "MUG", "quantity": 1, "price": "6.00", "total_discount": "0.00"},
        ],
        "shipping_lines": [{"price": "8.00", "discounted_price": "6.00"}],
    }
    return {**order, **fields}


def test_a_paid_shopify_order_is_one_web_sale_with_its_discounts_shipping_currency_and_tax_mode():
    delivery = shopify_delivery("orders/create", shopify_order(), "WEB")

    (request,) = delivery.requests
    parsed = request_from(request)
    assert (parsed.request_id, parsed.outlet, parsed.channel, parsed.currency) == ("shopify:1001", "WEB", "web", "SGD")
    assert parsed.prices_include_gst is True and parsed.customer is None
    assert [(ln.sku, str(ln.quantity), str(ln.unit_price), str(ln.discount)) for ln in parsed.lines] == [
        ("TEA", "2", "10.00", "2.00"),
        ("MUG", "1", "6.00", "0.00"),
        ("SHIPPING", "1", "8.00", "2.00"),
    ]
    assert [(t.method, str(t.amount), t.reference) for t in parsed.tenders] == [("CARD", "30.00", "shopify_payments")]
    assert "shopify:1001" in delivery.note


@pytest.mark.parametrize("status", ["pending", "voided", "refunded"])
def test_an_order_whose_payment_is_not_secured_posts_nothing(status):
    delivery = shopify_delivery("orders/create", shopify_order(financial_status=status), "WEB")
    assert delivery.requests == [] and status in delivery.note


def test_other_topics_post_nothing_and_orders_paid_posts_the_same_request_as_orders_create():
    assert shopify_delivery("orders/updated", shopify_order(), "WEB").requests == []
    assert (
        shopify_delivery("orders/paid", shopify_order(), "WEB").requests
        == shopify_delivery("orders/create", shopify_order(), "WEB").requests
    )


@pytest.mark.parametrize(("gateway", "method"), [("cash", "CASH"), ("gift_card", "VOUCHER"), ("Klarna", "CARD")])
def test_the_gateway_table_names_the_method_and_an_unknown_gateway_is_card_with_its_name(gateway, method):
    (request,) = shopify_delivery("orders/create", shopify_order(payment_gateway_names=[gateway]), "WEB").requests
    assert request["tenders"][0] | {} == {"method": method, "amount": "30.00", "reference": gateway}


def test_a_cancelled_posted_order_is_a_full_return_and_one_never_paid_is_nothing():
    order = shopify_order(financial_status="voided", cancelled_at="2025-03-02T09:00:00+08:00")
    (request,) = shopify_delivery("orders/cancelled", order, "WEB").requests
    parsed = request_from(request)
    assert (parsed.request_id, parsed.kind, parsed.original_request_id) == (
        "shopify:cancel:1001",
        "return",
        "shopify:1001",
    )
    assert [(ln.sku, str(ln.quantity)) for ln in parsed.lines] == [("TEA", "2"), ("MUG", "1"), ("SHIPPING", "1")]
    assert shopify_delivery("orders/cancelled", shopify_order(financial_status="pending"), "WEB").requests == []


def refund(**fields: Any) -> dict[str, Any]:
    body = {
        "id": 77,
        "order_id": 1001,
        "created_at": "2025-03-03T09:00:00+08:00",
        "refund_line_items": [{"quantity": 1, "line_item": {"sku": "TEA"}}],
        "transactions": [
            {"kind": "refund", "status": "success", "amount": "9.00", "gateway": "shopify_payments", "currency": "SGD"}
        ],
        "order_adjustments": [],
    }
    return {**body, **fields}


def test_a_shopify_refund_is_a_return_of_its_lines_and_refunded_shipping_returns_the_shipping_line():
    adjustment = [{"kind": "shipping_refund", "amount": "-6.00"}]
    (request,) = shopify_delivery("refunds/create", {"refund": refund(order_adjustments=adjustment)}, "WEB").requests
    parsed = request_from(request)
    assert (parsed.request_id, parsed.original_request_id, parsed.kind) == (
        "shopify:refund:77",
        "shopify:1001",
        "return",
    )
    assert [(ln.sku, str(ln.quantity), ln.unit_price) for ln in parsed.lines] == [
        ("TEA", "1", None),
        ("SHIPPING", "1", None),
    ]
    assert str(parsed.tenders[0].amount) == "9.00"


@pytest.mark.parametrize(
    "fields",
    [
        {"order_adjustments": [{"kind": "refund_discrepancy", "amount": "-3.00"}]},
        {"refund_line_items": []},
    ],
)
def test_a_shopify_refund_that_matches_no_line_is_an_unmapped_refund_naming_its_amount(fields):
    (request,) = shopify_delivery("refunds/create", refund(**fields), "WEB").requests
    assert [line["sku"] for line in request["lines"]] == [UNMAPPED_REFUND_SKU]
    assert request["tenders"][0]["amount"] == "9.00"
    request_from(request)  # valid wire format: the worker, not the schema, rejects it


def test_a_woocommerce_order_with_a_coupon_and_tax_included_carries_shelf_prices_and_each_listed_refund():
    order = {
        "id": 727,
        "status": "processing",
        "currency": "SGD",
        "prices_include_tax": True,
        "date_created_gmt": "2025-03-01T02:15:00",
        "date_modified_gmt": "2025-03-02T02:15:00",
        "total": "31.80",
        "payment_method": "bacs",
        "transaction_id": "",
        "line_items": [
            {
                "sku": "TEA",
                "quantity": 2,
                "subtotal": "18.35",
                "subtotal_tax": "1.65",
                "total": "16.51",
                "total_tax": "1.49",
            }
        ],
        "shipping_lines": [{"total": "11.01", "total_tax": "0.99"}, {"total": "0.00", "total_tax": "0.00"}],
        "refunds": [{"id": 9, "total": "-4.00"}],
    }
    sale, unmapped = woocommerce_delivery("order.updated", order, "WEB").requests
    parsed = request_from(sale)
    assert (parsed.request_id, str(parsed.occurred_at), parsed.prices_include_gst) == (
        "woocommerce:727",
        "2025-03-01 02:15:00+00:00",
        True,
    )
    assert [(ln.sku, str(ln.unit_price), str(ln.discount)) for ln in parsed.lines] == [
        ("TEA", "10.00", "2.00"),
        ("SHIPPING", "12.00", "0"),
    ]
    assert (parsed.tenders[0].method, parsed.tenders[0].reference) == ("PAYNOW", "bacs")
    assert (unmapped["request_id"], unmapped["tenders"][0]["amount"]) == ("woocommerce:refund:9", "4.00")


def test_a_pending_woocommerce_order_posts_nothing():
    assert woocommerce_delivery("order.created", {"id": 5, "status": "pending"}, "WEB").requests == []


@pytest.mark.parametrize(
    "payload",
    [[1, 2], "text", None, {"id": 5, "status": "processing", "line_items": "nonsense", "total": {"x": 1}}],
)
def test_a_delivery_that_cannot_be_mapped_is_a_request_the_worker_rejects_never_an_exception(payload):
    for deliver, topic in ((shopify_delivery, "orders/create"), (woocommerce_delivery, "order.created")):
        delivery = deliver(topic, payload, "WEB")
        requests = delivery.requests or [{}]
        if payload is not None and isinstance(payload, dict) and deliver is shopify_delivery:
            continue  # no financial_status: acknowledged, nothing posted
        with pytest.raises(Invalid):
            request_from(requests[0])


def not_mapped_reason(request: dict[str, Any]) -> str:
    """The INVALID message the worker records for a request the adapter would not map."""
    with pytest.raises(Invalid) as refused:
        request_from(request)
    return str(refused.value)


@pytest.mark.parametrize(
    ("fields", "email"),
    [
        ({"email": "  Ann@Example.COM "}, "ann@example.com"),
        ({"email": None, "customer": {"email": "Bo@Example.com"}}, "bo@example.com"),
        ({"email": "", "customer": {"email": " CY@x.sg"}}, "cy@x.sg"),
        ({"email": "not an address"}, None),
        ({"email": 42, "customer": "nobody"}, None),
        ({}, None),
    ],
)
def test_a_shopify_orders_email_is_trimmed_and_lower_cased_for_matching_or_absent(fields, email):
    assert shopify_delivery("orders/paid", shopify_order(**fields), "WEB").customer_email == email


def test_a_woocommerce_orders_billing_email_is_used_and_a_refund_or_unpaid_order_has_none():
    order = {"id": 5, "status": "processing", "billing": {"email": " Dee@Shop.SG "}, "line_items": []}
    assert woocommerce_delivery("order.updated", order, "WEB").customer_email == "dee@shop.sg"
    assert woocommerce_delivery("order.updated", {**order, "status": "pending"}, "WEB").customer_email is None
    assert woocommerce_delivery("order.updated", {**order, "billing": ["x"]}, "WEB").customer_email is None


def test_the_customer_found_by_email_is_put_on_the_sale_only_and_none_found_leaves_a_walk_in():
    delivery = shopify_delivery("orders/paid", shopify_order(email=" Ann@Example.com"), "WEB")
    asked: list[str] = []

    found = with_customer(delivery, lambda email: asked.append(email) or "C-ANN")
    nobody = with_customer(delivery, lambda email: None)

    assert asked == ["ann@example.com"]
    assert [r.get("customer") for r in found.requests] == ["C-ANN"] and "customer C-ANN" in found.note
    assert [r.get("customer") for r in nobody.requests] == [None]
    refund_delivery = shopify_delivery("refunds/create", refund(), "WEB")
    assert with_customer(refund_delivery, lambda email: "C-ANN").requests == refund_delivery.requests


def test_a_positive_woocommerce_fee_is_a_web_fee_line_and_a_free_one_adds_none():
    free = {"name": "Nothing", "total": "0.00", "total_tax": "0.00"}
    order = woo_order(fee_lines=[*woo_order()["fee_lines"], free])
    (sale,) = woocommerce_delivery("order.updated", order, "WEB").requests
    assert [(ln.sku, str(ln.unit_price)) for ln in request_from(sale).lines] == [
        ("TEA", "10.00"),
        ("SHIPPING", "5.00"),
        ("WEB-FEE", "2.00"),
    ]


def test_a_negative_woocommerce_fee_rejects_the_order_as_invalid_naming_the_fee():
    order = woo_order(fee_lines=[{"name": "Loyal customer", "total": "-3.00", "total_tax": "-0.27"}])
    (request,) = woocommerce_delivery("order.updated", order, "WEB").requests
    assert request["request_id"] == "woocommerce:880"
    reason = not_mapped_reason(request)
    assert "negative fee (Loyal customer -3.00)" in reason and reason.startswith("lines: ")


def test_a_cancelled_paid_woocommerce_order_is_a_full_return_and_one_never_paid_is_nothing():
    (cancel,) = woocommerce_delivery("order.updated", woo_order(status="cancelled"), "WEB").requests
    parsed = request_from(cancel)
    assert (parsed.request_id, parsed.kind, parsed.original_request_id) == (
        "woocommerce:cancel:880",
        "return",
        "woocommerce:880",
    )
    assert [(ln.sku, str(ln.quantity)) for ln in parsed.lines] == [("TEA", "2"), ("SHIPPING", "1"), ("WEB-FEE", "1")]
    assert (str(parsed.tenders[0].amount), str(parsed.occurred_at)) == ("29.43", "2025-03-04 02:15:00+00:00")

    unpaid = woocommerce_delivery("order.updated", woo_order(status="cancelled", date_paid_gmt=None), "WEB")
    assert unpaid.requests == [] and "cancelled before payment" in unpaid.note


@pytest.mark.parametrize(
    "fields",
    [
        {"refund_line_items": [], "transactions": []},
        {"refund_line_items": [{"quantity": 0, "line_item": {"sku": "TEA"}}], "transactions": []},
        {
            "refund_line_items": [{"quantity": 0, "line_item": {"sku": "TEA"}}],
            "transactions": [{"kind": "refund", "status": "success", "amount": "0.00", "gateway": "bogus"}],
        },
        {"transactions": [{"kind": "refund", "status": "success", "amount": "0", "gateway": "bogus"}]},
    ],
)
def test_a_shopify_refund_of_nothing_is_invalid_with_a_clear_message_never_an_empty_return(fields):
    (request,) = shopify_delivery("refunds/create", refund(**fields), "WEB").requests
    assert request["request_id"] == "shopify:refund:77"
    reason = not_mapped_reason(request)
    assert "refund 77 of shopify:1001" in reason and "not posted as a return" in reason


def test_a_woocommerce_refund_of_nothing_is_invalid_with_a_clear_message():
    listed = woo_order(refunds=[{"id": 12, "total": "-0.00"}])
    _, zero = woocommerce_delivery("order.updated", listed, "WEB").requests
    assert "refund 12 of woocommerce:880 refunds nothing" in not_mapped_reason(zero)
    refund_object = {
        "id": 13,
        "amount": "0.00",
        "refunded_by": 1,
        "date_created_gmt": "2025-03-03T01:00:00",
        "line_items": [{"sku": "TEA", "quantity": 0}],
        "_links": {"up": [{"href": "https://shop.example/wp-json/wc/v3/orders/880"}]},
    }
    (request,) = woocommerce_delivery("order.updated", refund_object, "WEB").requests
    assert "refund 13 of woocommerce:880 refunds nothing" in not_mapped_reason(request)
