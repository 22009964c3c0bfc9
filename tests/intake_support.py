"""The HTTP intake under test: `tillpost intake` (real uvicorn) on a free loopback port, its keys and
webhook secrets, and signed deliveries as Shopify and WooCommerce send them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from domain.tables import SaleRequestRow, WebDelivery
from frontends.intake.auth import signature_of
from tests.batch_support import start_tillpost
from tests.workers import free_port, stop_group, wait_until

KEY, ACME_KEY, BETA_KEY = "install-key-1", "acme-key-2", "beta-key-3"
SHOPIFY_SECRET, WOO_SECRET = "shpss_test_secret", "wc_test_secret"


def intake_env(pipeline_env: dict[str, str]) -> dict[str, str]:
    """The test environment with the intake's keys and both webhook secrets."""
    return dict(
        pipeline_env,
        TILLPOST_INTAKE_KEYS=f"{KEY},{ACME_KEY}:ACME,{BETA_KEY}:BETA",
        TILLPOST_SHOPIFY_SECRET=SHOPIFY_SECRET,
        TILLPOST_WOOCOMMERCE_SECRET=WOO_SECRET,
    )


@contextmanager
def running_intake(env: dict[str, str], log: Path, ready: str = "/healthz") -> Iterator[httpx.Client]:
    """`tillpost intake --port P` until the block ends; a client for it once `ready` answers 200."""
    port = free_port()
    server = start_tillpost(env, log, "intake", "--port", str(port))
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_until(lambda: answers(client, ready), timeout=60, what=f"the intake to answer {ready}")
        yield client
    finally:
        client.close()
        stop_group(server)


def answers(client: httpx.Client, path: str = "/healthz") -> bool:
    try:
        return client.get(path).status_code == 200
    except httpx.TransportError:
        return False


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def shopify_headers(
    body: bytes, topic: str = "orders/paid", secret: str = SHOPIFY_SECRET, **extra: str
) -> dict[str, str]:
    """What Shopify sends with a delivery: the body's signature, topic, shop and delivery id."""
    return {
        "X-Shopify-Hmac-Sha256": signature_of(secret, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "Content-Type": "application/json",
        **extra,
    }


def woo_headers(body: bytes, topic: str = "order.updated", secret: str = WOO_SECRET, **extra: str) -> dict[str, str]:
    """What WooCommerce sends: the body's signature, topic and a delivery id (not stable across retries)."""
    return {
        "X-WC-Webhook-Signature": signature_of(secret, body),
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Delivery-ID": "1",
        "Content-Type": "application/json",
        **extra,
    }


def counts(sessions: Any) -> tuple[int, int]:
    """(sale requests, web deliveries) recorded."""
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(SaleRequestRow)), s.scalar(
            select(func.count()).select_from(WebDelivery)
        )


def outcome_of(client: httpx.Client, request_id: str, key: str = KEY) -> str | None:
    reply = client.get(f"/v1/sales/{request_id}", headers=bearer(key))
    return reply.json()["outcome"] if reply.status_code == 200 else None


def woo_order(**fields: Any) -> dict[str, Any]:
    """A consistent paid WooCommerce order (USD, prices without tax): 2 TEA, shipping 5.00 and a
    gift-wrap fee 2.00, total 29.43; `fields` replace its keys."""
    order = {
        "id": 880,
        "number": "880",
        "status": "processing",
        "currency": "USD",
        "prices_include_tax": False,
        "date_created_gmt": "2025-03-01T02:15:00",
        "date_modified_gmt": "2025-03-04T02:15:00",
        "date_paid_gmt": "2025-03-01T02:16:00",
        "total": "29.43",
        "payment_method": "stripe",
        "line_items": [
            {
                "sku": "TEA",
                "quantity": 2,
                "subtotal": "20.00",
                "subtotal_tax": "1.80",
                "total": "20.00",
                "total_tax": "1.80",
            }
        ],
        "shipping_lines": [{"total": "5.00", "total_tax": "0.45"}],
        "fee_lines": [{"name": "Gift wrap", "total": "2.00", "total_tax": "0.18"}],
    }
    return {**order, **fields}
