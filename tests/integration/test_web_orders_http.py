"""Every fixture of ../shared/fixtures through its webhook over HTTP: a real uvicorn intake on loopback,
signed deliveries, a real worker process, and the documented outcome of each (README "Web orders").

One intake and one worker serve the module; each test starts from an emptied ledger."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import TestDatabase
from tests.intake_support import KEY, bearer, intake_env, running_intake, shopify_headers, woo_headers
from tests.integration.test_web_orders import FIXTURES, consistent_order, fixture, usd_shop, with_customers
from tests.workers import Worker, redis_client, wait_until

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def web_intake(database_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """The intake (signed webhooks) and one worker process, for the whole module."""
    logs = tmp_path_factory.mktemp("web-http")
    redis_client(broker_url).flushdb()
    env = intake_env(
        dict(os.environ, TILLPOST_DATABASE_URL=database_url, TILLPOST_BROKER_URL=broker_url, TILLPOST_HOME=str(logs))
    )
    worker = Worker(env, logs, concurrency=1)
    try:
        worker.wait_ready()
        with running_intake(env, logs / "intake.log") as client:
            yield client
    finally:
        worker.stop()


def deliver(client: httpx.Client, platform: str, topic: str, item: dict[str, Any], n: int = 0) -> httpx.Response:
    """One signed delivery, as the platform sends it: the bare object (a REST answer wraps it)."""
    if platform == "shopify" and len(item) == 1 and next(iter(item)) in ("order", "refund"):
        item = next(iter(item.values()))
    body = json.dumps(item).encode()
    if platform == "shopify":
        headers = shopify_headers(body, topic, **{"X-Shopify-Webhook-Id": f"delivery-{n}"})
    else:
        headers = woo_headers(body, topic, **{"X-WC-Webhook-Delivery-ID": str(n)})
    reply = client.post(f"/v1/webhooks/{platform}", content=body, headers=headers)
    assert reply.status_code == 202, reply.text
    return reply


def settled(sessions: TestDatabase, deliveries: int) -> list[Any]:
    """Once every delivery is recorded and no request is PENDING: the requests, in the order received."""

    def done() -> list[Any] | None:
        with sessions() as s:
            if s.scalar(text("SELECT count(*) FROM web_deliveries")) < deliveries:
                return None
            rows = s.execute(text("SELECT request_id, outcome, reason, message FROM sale_requests ORDER BY id")).all()
        return None if any(r.outcome == "PENDING" for r in rows) else [rows]

    return wait_until(done, timeout=60, what="every delivery recorded and every request decided")[0]


@pytest.mark.parametrize(("platform", "name", "topic", "expected"), FIXTURES, ids=[f[1] for f in FIXTURES])
def test_each_fixture_through_its_webhook_ends_in_its_documented_outcome(
    sessions, web_intake, platform, name, topic, expected
):
    # Given a USD shop whose prices exclude tax, like the fixtures' shops
    usd_shop(sessions)
    data = fixture(platform, name)
    items = data.get("orders", [data]) if isinstance(data, dict) else data

    # When each order or refund of the fixture is delivered, signed, to its webhook
    replies = [deliver(web_intake, platform, topic, item, n) for n, item in enumerate(items)]

    # Then each request the deliveries made ends in its documented outcome, with a message, and no sale
    rows = settled(sessions, len(items))
    assert [(r.request_id, r.outcome, r.reason) for r in rows] == expected
    assert all(r.message for r in rows)
    assert {r.json()["request_id"] for r in replies} - {None} <= {e[0] for e in expected}  # each 202 names its own
    with sessions() as s:
        assert s.scalar(text("SELECT count(*) FROM sales")) == 0
        notes = s.scalars(text("SELECT note FROM web_deliveries ORDER BY id")).all()
    assert len(notes) == len(items) and all(notes)  # every delivery kept, saying what it became


def test_the_shopify_order_made_consistent_then_its_refund_fixture_is_a_return_of_it(sessions, web_intake):
    # Given the Shopify fixture order with its total made what the ledger computes, delivered paid
    usd_shop(sessions)
    order = fixture("shopify", "python_api_order.json")
    order["order"]["total_price"] = "632.82"  # 3 x 199.00 + 6% tax
    deliver(web_intake, "shopify", "orders/paid", order)
    assert [tuple(r[:3]) for r in settled(sessions, 1)] == [("shopify:450789469", "POSTED", None)]

    # When its refund fixture arrives (refunded 209.00 for a line the ledger prices at 421.88 with tax)
    refund = fixture("shopify", "python_api_refund.json")
    deliver(web_intake, "shopify", "refunds/create", refund, 1)
    # And the same refund made consistent, under another refund id
    consistent = copy.deepcopy(refund)
    consistent["refund"]["id"] = 509562970
    consistent["refund"]["transactions"][0]["amount"] = "421.88"
    deliver(web_intake, "shopify", "refunds/create", consistent, 2)

    # Then the fixture is TENDER_SHORT naming both figures, and the consistent one is a return of the order
    rows = settled(sessions, 3)
    assert [tuple(r[:3]) for r in rows] == [
        ("shopify:450789469", "POSTED", None),
        ("shopify:refund:509562969", "REJECTED", "TENDER_SHORT"),
        ("shopify:refund:509562970", "POSTED", None),
    ]
    assert "209.00" in rows[1].message and "421.88" in rows[1].message
    with sessions() as s:
        sales = s.execute(text("SELECT request_id, kind, total FROM sales ORDER BY id")).all()
    assert [(r, k, str(t)) for r, k, t in sales] == [
        ("shopify:450789469", "sale", "632.82"),
        ("shopify:refund:509562970", "return", "-421.88"),
    ]


def test_a_paid_order_over_http_earns_loyalty_for_the_customer_with_its_email(sessions, web_intake):
    # Given a customer whose e-mail is stored with capitals
    shop = usd_shop(sessions)
    with_customers(sessions, shop, {"ANN": "Ann.Lee@Example.com"})

    # When a paid order with that e-mail, in other case and with spaces, is delivered
    reply = deliver(web_intake, "shopify", "orders/paid", consistent_order(email=" ANN.LEE@example.COM "))

    # Then the sale is Ann's and earns her its points: floor(32.16 / 10)
    assert "customer ANN (by e-mail)" in reply.json()["note"]
    assert [tuple(r[:3]) for r in settled(sessions, 1)] == [("shopify:5001", "POSTED", None)]
    document = wait_until(
        lambda: (d := web_intake.get("/v1/sales/shopify:5001", headers=bearer(KEY)).json())["points_earned"] and d,
        what="the loyalty follow-up",
    )
    assert document["points_earned"] == 3
    with sessions() as s:
        assert s.scalar(text("SELECT points FROM customers WHERE code = 'ANN'")) == 3
