"""POST /v1/webhooks/shopify and /v1/webhooks/woocommerce: signed deliveries of the web shops.

Signature first (401 without it), then JSON (422), then the adapter of frontends/web. A correctly
signed delivery is always answered 202 once recorded, even when it cannot be mapped or becomes no
sale request (a 4xx would make Shopify retry and then delete the subscription): the delivery is kept
in web_deliveries with its platform headers and what it became. The same order delivered again is
the same request_id, so the ledger posts it once (DUPLICATE), whatever its delivery id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from starlette.concurrency import run_in_threadpool

from domain.batches.entries import printable
from domain.posting.intake import request_id_of
from domain.vocabulary import Outcome
from frontends import web
from frontends.intake.auth import require_signature
from frontends.intake.body import decode_json, read_body
from frontends.intake.refusals import documented
from frontends.intake.sales import Accepted
from frontends.intake.sending import send_now
from services import intake

log = logging.getLogger("tillpost.intake")
router = APIRouter(tags=["webhooks"])


@dataclass(frozen=True)
class Platform:
    name: str
    secret: Callable[[Any], str | None]  # from the settings
    signature: str
    topic: str
    delivery_id: str
    audit: tuple[str, ...]  # headers kept with the delivery
    adapter: Callable[[str, Any, str], Any]


SHOPIFY = Platform(
    "shopify",
    lambda s: s.shopify_secret,
    "x-shopify-hmac-sha256",
    "x-shopify-topic",
    "x-shopify-webhook-id",
    (
        "x-shopify-topic",
        "x-shopify-shop-domain",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-triggered-at",
        "x-shopify-api-version",
    ),
    lambda topic, payload, outlet: web.shopify_delivery(topic, payload, outlet),
)
WOOCOMMERCE = Platform(
    "woocommerce",
    lambda s: s.woocommerce_secret,
    "x-wc-webhook-signature",
    "x-wc-webhook-topic",
    "x-wc-webhook-delivery-id",
    (
        "x-wc-webhook-topic",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-source",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
        "x-wc-webhook-id",
    ),
    lambda topic, payload, outlet: web.woocommerce_delivery(topic, payload, outlet),
)

# The bodies as the spec shows them: the fields the adapters read (any other field is allowed and
# ignored). Documentation for callers and for schema-driven tests; the adapters read the raw body.
_MONEY = {"type": "string", "example": "19.99"}
_SHOPIFY_ORDER = {
    "type": "object",
    "description": "a Shopify order (orders/create, orders/paid, orders/cancelled) or refund (refunds/create)",
    "properties": {
        "id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "currency": {"type": "string", "example": "SGD"},
        "taxes_included": {"type": "boolean"},
        "financial_status": {"type": "string", "enum": ["pending", "authorized", "paid", "partially_paid", "voided"]},
        "total_price": _MONEY,
        "gateway": {"type": "string"},
        "email": {"type": "string"},
        "line_items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}, "price": _MONEY},
            },
        },
        "shipping_lines": {"type": "array", "items": {"type": "object", "properties": {"price": _MONEY}}},
    },
}
_WOOCOMMERCE_ORDER = {
    "type": "object",
    "description": "a WooCommerce order (order.created, order.updated) or refund object",
    "properties": {
        "id": {"type": "integer"},
        "status": {"type": "string", "enum": ["pending", "processing", "completed", "cancelled", "refunded"]},
        "currency": {"type": "string", "example": "SGD"},
        "prices_include_tax": {"type": "boolean"},
        "date_created_gmt": {"type": "string", "example": "2025-03-01T02:15:00"},
        "total": _MONEY,
        "payment_method": {"type": "string"},
        "billing": {"type": "object", "properties": {"email": {"type": "string"}}},
        "line_items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string"},
                    "quantity": {"type": "integer"},
                    "subtotal": _MONEY,
                    "total": _MONEY,
                },
            },
        },
        "shipping_lines": {"type": "array", "items": {"type": "object", "properties": {"total": _MONEY}}},
        "fee_lines": {"type": "array", "items": {"type": "object", "properties": {"total": _MONEY}}},
    },
}


def _signed_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


@router.post(
    "/v1/webhooks/shopify",
    status_code=202,
    response_model=Accepted,
    responses=documented(401, 413, 422, 503),
    openapi_extra={"requestBody": _signed_body(_SHOPIFY_ORDER)},
)
async def shopify(request: Request, background: BackgroundTasks) -> Accepted:
    """A Shopify delivery, signed in X-Shopify-Hmac-Sha256 with TILLPOST_SHOPIFY_SECRET."""
    return await accept(SHOPIFY, request, background)


@router.post(
    "/v1/webhooks/woocommerce",
    status_code=202,
    response_model=Accepted,
    responses=documented(401, 413, 422, 503),
    openapi_extra={"requestBody": _signed_body(_WOOCOMMERCE_ORDER)},
)
async def woocommerce(request: Request, background: BackgroundTasks) -> Accepted:
    """A WooCommerce delivery, signed in X-WC-Webhook-Signature with TILLPOST_WOOCOMMERCE_SECRET."""
    return await accept(WOOCOMMERCE, request, background)


async def accept(platform: Platform, request: Request, background: BackgroundTasks) -> Accepted:
    config = request.app.state.settings
    body = await read_body(request)
    require_signature(platform.secret(config), body, request.headers.get(platform.signature))
    payload = decode_json(body)
    delivery = await run_in_threadpool(_delivery, platform, request, payload, config.web_outlet)
    intake_ids = await run_in_threadpool(intake.receive_delivery, request.app.state.db, delivery)
    request_ids = [request_id_of(r) for r in delivery.requests]
    what = f"{platform.name} delivery {delivery.delivery_id or '(no id)'} ({delivery.topic or 'no topic'})"
    log.info("%s recorded: %s; %s", what, ", ".join(request_ids) or "no sale request", delivery.note or "-")
    background.add_task(send_now, intake_ids, what)
    return Accepted(
        request_id=request_ids[0] if request_ids else None,
        outcome=Outcome.PENDING if request_ids else None,
        note=delivery.note or None,
    )


def _delivery(platform: Platform, request: Request, payload: Any, outlet: str) -> intake.WebDeliveryIn:
    topic = request.headers.get(platform.topic, "")[:100]
    try:
        made = platform.adapter(topic, payload, outlet)
    except Exception as exc:  # a signed delivery is never refused: recorded, for a person to look at
        log.error("%s delivery (%s) could not be mapped", platform.name, topic, exc_info=exc)
        made = web.Delivery([], f"could not be mapped: {type(exc).__name__}")
    db = request.app.state.db  # a database fault here is the 503 of every other one
    made = web.with_customer(made, lambda email: intake.customer_by_email(db, outlet, email))
    # Made printable: the order's own text (its id, its status in the note) may hold a NUL or a lone
    # surrogate, which PostgreSQL cannot store; a signed delivery is recorded all the same.
    requests, note = list(made.requests), printable(made.note)
    return intake.WebDeliveryIn(
        platform=platform.name,
        delivery_id=(request.headers.get(platform.delivery_id) or None),
        topic=topic,
        order_id=_order_id(payload),
        headers={h: request.headers[h][:500] for h in platform.audit if h in request.headers},
        requests=requests,
        note=note,
    )


def _order_id(payload: Any) -> str | None:
    """The platform's order id (a refund names its order in order_id; an order is its own id)."""
    if not isinstance(payload, dict):
        return None
    found = payload.get("order_id") or payload.get("id")
    return printable(str(found))[:100] if isinstance(found, (int, str)) and not isinstance(found, bool) else None
