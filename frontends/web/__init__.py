"""Web-shop orders (Shopify, WooCommerce) turned into sale requests (README "Web orders").

The API the HTTP intake (frontends/intake) and `tillpost web import` call: one webhook delivery (or
one exported order) becomes a Delivery: 0, 1 or more wire-format requests for
services.intake.receive, and a note saying what it became. Never raises: a payload that cannot be
read becomes a request the worker rejects (INVALID), so a signed delivery is always recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from frontends.web import shopify, woocommerce
from frontends.web.common import unmappable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """What one delivery became: 0, 1 or more wire-format sale requests, and a note."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    customer_email: str | None = None  # the order's, trimmed and lower case: see `with_customer`


def with_customer(delivery: Delivery, find: Callable[[str], str | None]) -> Delivery:
    """The delivery's sale credited to the customer whose e-mail is the order's: `find(email)` gives
    the code of the one customer of the web outlet's company with that e-mail, or None when none or
    several have it (then the sale stays a walk-in: never a guess). Returns carry no customer (their
    points come off their original's member)."""
    if not delivery.customer_email:
        return delivery
    code = find(delivery.customer_email)
    if code is None:
        return delivery
    requests = [
        {**r, "customer": code} if r.get("kind", "sale") == "sale" and "tenders" in r else r for r in delivery.requests
    ]
    return replace(delivery, requests=requests, note=f"{delivery.note}; customer {code} (by e-mail)")


def shopify_delivery(topic: str, payload: Any, web_outlet: str) -> Delivery:
    """One Shopify delivery: orders/create or orders/paid once payment is secured -> the sale;
    refunds/create -> a return (or UNMAPPED_REFUND); orders/cancelled of a posted order -> a full return."""
    return _safely("shopify", _shopify, topic, _unwrap(payload, "order", "refund"), web_outlet)


def woocommerce_delivery(topic: str, payload: Any, web_outlet: str) -> Delivery:
    """One WooCommerce delivery: order.created / order.updated with status processing or completed ->
    the sale; each refund the order lists -> UNMAPPED_REFUND (amount only); a refund object -> a return."""
    return _safely("woocommerce", _woocommerce, topic, payload, web_outlet)


def _shopify(topic: str, payload: dict[str, Any], outlet: str) -> Delivery:
    if topic == "refunds/create" or "refund_line_items" in payload:
        request = shopify.refund_request(payload, outlet)
        return Delivery(
            [request], f"refund {payload.get('id')} of order {payload.get('order_id')}: {request['request_id']}"
        )
    order = f"order {shopify.order_id(payload)}"
    status = payload.get("financial_status")
    if topic == "orders/cancelled":
        if status in shopify.NEVER_POSTED:
            return Delivery([], f"{order} cancelled before payment ({status}): acknowledged, nothing posted")
        request = shopify.cancel_request(payload, outlet)
        return Delivery([request], f"{order} cancelled: full return {request['request_id']}")
    if topic not in shopify.ORDER_TOPICS:
        return Delivery([], f"{order}: topic {topic} acknowledged, nothing posted")
    if status not in shopify.SECURED:
        return Delivery([], f"{order}: payment {status}: acknowledged, nothing posted")
    request = shopify.order_request(payload, outlet)
    return Delivery([request], f"{order}: sale {request['request_id']}", shopify.customer_email(payload))


def _woocommerce(topic: str, payload: dict[str, Any], outlet: str) -> Delivery:
    if woocommerce.is_refund_object(payload):
        request = woocommerce.refund_object_request(payload, outlet)
        return Delivery([request], f"refund {payload.get('id')}: {request['request_id']}")
    order = f"order {payload.get('id')}"
    if topic not in woocommerce.ORDER_TOPICS:
        return Delivery([], f"{order}: topic {topic} acknowledged, nothing posted")
    refunds = woocommerce.refund_requests(payload, outlet)
    status = payload.get("status")
    listed = f", {len(refunds)} refund(s) for a person (UNMAPPED_REFUND)" if refunds else ""
    if status == "cancelled":
        if not woocommerce.was_paid(payload):
            return Delivery(refunds, f"{order} cancelled before payment: acknowledged, nothing posted{listed}")
        cancel = woocommerce.cancel_request(payload, outlet)
        return Delivery([*refunds, cancel], f"{order} cancelled: full return {cancel['request_id']}{listed}")
    sale = [woocommerce.order_request(payload, outlet)] if status in woocommerce.SECURED else []
    posted = f"sale {sale[0]['request_id']}" if sale else f"status {status}: no sale"
    email = woocommerce.customer_email(payload) if sale else None
    return Delivery(sale + refunds, f"{order}: {posted}{listed}", email)


def _safely(platform: str, mapper: Callable[..., Delivery], topic: str, payload: Any, outlet: str) -> Delivery:
    if not isinstance(payload, dict):
        request = unmappable(platform, payload, outlet, "the payload is not a JSON object")
        return Delivery([request], f"unreadable {platform} delivery: {request['request_id']} (INVALID)")
    try:
        return mapper(topic, payload, outlet)
    except Exception as exc:  # a shape no adapter foresaw: recorded and rejected, never an exception
        log.warning("%s delivery %s could not be mapped: %s", platform, topic, type(exc).__name__)
        request = unmappable(platform, payload, outlet, f"{type(exc).__name__}: {exc}")
        return Delivery([request], f"unreadable {platform} delivery: {request['request_id']} (INVALID)")


def _unwrap(payload: Any, *names: str) -> Any:
    """A REST answer wraps the object ({"order": {...}}); a webhook sends it bare."""
    if isinstance(payload, dict) and len(payload) == 1:
        ((name, inner),) = payload.items()
        if name in names and isinstance(inner, dict):
            return inner
    return payload
