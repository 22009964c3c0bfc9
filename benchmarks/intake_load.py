"""Web-order load benchmark: signed Shopify orders/create deliveries offered at a steady rate to the
HTTP intake (`tillpost intake`, uvicorn) on loopback, posted by a worker with N pool processes, on a
fresh database of the configured (or embedded) PostgreSQL with the demo shop.

    .venv/bin/python benchmarks/intake_load.py                      # 100 orders/s for 60 s, 2 pool processes
    .venv/bin/python benchmarks/intake_load.py --rate 50 --seconds 10

Open loop: each order is sent at its scheduled time whatever the replies before it, and its 202
latency is counted from that time (a late send counts against the intake, never hides). Each order
has its own id and totals the ledger agrees with (catalogue prices, GST included, paid by card), so
it POSTS. 202 to POSTED is the request row's processed_at (PostgreSQL's clock, the worker's
transaction) minus the time the 202 arrived (this machine's clock: the same one). Lost: accepted
(202) but not POSTED within --settle seconds after the last send. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks import databases, pipeline  # noqa: E402
from benchmarks.databases import database  # noqa: E402
from frontends.demo_data import catalogue  # noqa: E402
from frontends.intake.auth import signature_of  # noqa: E402
from runtime import embedded, settings  # noqa: E402
from tests.workers import free_port, stop_group  # noqa: E402

SECRET = f"bench-{uuid.uuid4().hex}"


def orders(count: int, seed: int = 11) -> list[bytes]:
    """`count` paid Shopify orders of the demo shop, each with its own id, totals as the ledger computes."""
    shop = catalogue()
    products = [p for p in shop["products"] if p["track_inventory"] == "true"]
    emails = [c["email"] for c in shop["customers"]]
    rng = random.Random(seed)
    bodies = []
    base = 7_000_000_000 + rng.randrange(10**9)
    for n in range(count):
        lines = [(rng.choice(products), rng.randint(1, 2)) for _ in range(rng.randint(1, 3))]
        total = sum((Decimal(p["price"]) * q for p, q in lines), Decimal(0))  # GST included, card: no rounding
        order = {
            "id": base + n,
            "name": f"#{n + 1}",
            "created_at": "2025-03-01T10:15:00+08:00",
            "currency": "SGD",
            "taxes_included": True,
            "financial_status": "paid",
            "email": rng.choice(emails) if rng.random() < 0.3 else None,
            "total_price": f"{total:.2f}",
            "payment_gateway_names": ["shopify_payments"],
            "line_items": [
                {"id": i, "sku": p["sku"], "quantity": q, "price": p["price"], "total_discount": "0.00"}
                for i, (p, q) in enumerate(lines)
            ],
            "shipping_lines": [],
        }
        bodies.append(json.dumps(order).encode())
    return bodies


def percentiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000

    return f"p50 {at(50):7.1f} ms  p95 {at(95):7.1f} ms  p99 {at(99):7.1f} ms  max {ordered[-1] * 1000:7.1f} ms"


async def offer(base_url: str, bodies: list[bytes], rate: float) -> list[dict[str, Any]]:
    """Send every body at its scheduled time (open loop); what became of each."""
    results: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:

        async def one(n: int, body: bytes, due: float) -> None:
            headers = {
                "X-Shopify-Hmac-Sha256": signature_of(SECRET, body),
                "X-Shopify-Topic": "orders/create",
                "X-Shopify-Webhook-Id": f"bench-{n}",
                "Content-Type": "application/json",
            }
            record: dict[str, Any] = {"n": n, "due": due}
            try:
                reply = await client.post("/v1/webhooks/shopify", content=body, headers=headers)
                record.update(status=reply.status_code, request_id=reply.json().get("request_id"))
            except (httpx.HTTPError, ValueError) as exc:
                record.update(status=None, error=type(exc).__name__)
            record["answered"] = time.monotonic()
            record["answered_wall"] = time.time()
            results.append(record)

        tasks = []
        started = time.monotonic()
        for n, body in enumerate(bodies):
            due = started + n / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n, body, due)))
        await asyncio.gather(*tasks)
        sent_for = time.monotonic() - started
    print(f"offered    : {len(bodies)} orders at {rate:g}/s; all sent within {sent_for:.1f} s")
    return results


def posted_times(db_url: str, request_ids: list[str], settle: float) -> dict[str, tuple[str, float | None]]:
    """request_id -> (outcome, processed_at as a Unix time), waiting up to `settle` s for PENDING ones."""
    db = database(db_url)
    query = text(
        "SELECT request_id, outcome, extract(epoch FROM processed_at) FROM sale_requests WHERE request_id = ANY(:ids)"
    )
    deadline = time.monotonic() + settle
    try:
        while True:
            rows = db.read(lambda s: s.execute(query, {"ids": request_ids}).all())
            found = {r[0]: (r[1], float(r[2]) if r[2] is not None else None) for r in rows}
            pending = sum(1 for outcome, _ in found.values() if outcome == "PENDING")
            if (pending == 0 and len(found) == len(request_ids)) or time.monotonic() > deadline:
                return found
            time.sleep(0.5)
    finally:
        db.dispose()


def start_intake(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        intake = subprocess.Popen(
            [sys.executable, "-m", "frontends.cli", "intake", "--port", str(port)],
            env=env,
            cwd=ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return intake
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the intake did not answer within 60 s (see {log})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="orders offered per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long they are offered")
    parser.add_argument("--workers", type=int, default=2, help="worker pool processes")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to wait for POSTED after the last send")
    args = parser.parse_args()

    embedded.ensure_running(settings.load())
    config = settings.load()
    server, broker = config.database_url, config.broker_url
    broker = pipeline.own_broker(broker)  # a Redis database of its own: emptying it eats nobody's messages
    folder = config.home / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    count = int(args.rate * args.seconds)
    bodies = orders(count)
    print(f"orders: {count:,} signed Shopify orders/create; workers: {args.workers}; cores: {os.cpu_count()}")

    template = databases.template(server, "demo", catalogue())
    db_url = databases.copy_of(server, template, "intake")
    pipeline.flush(broker)
    env = dict(
        os.environ,
        TILLPOST_DATABASE_URL=db_url,
        TILLPOST_BROKER_URL=broker,
        TILLPOST_SHOPIFY_SECRET=SECRET,
        TILLPOST_INTAKE_KEYS=f"bench-{uuid.uuid4().hex}",
        TILLPOST_WEB_OUTLET="WEB",
    )
    port = free_port()
    worker = pipeline.start_node(
        env, folder / "intake-bench-worker.log", args.workers, "intake-bench@%h", "workers.app"
    )
    intake = start_intake(env, port, folder / "intake-bench.log")
    try:
        time.sleep(4)  # the worker's pool is up before the clock starts
        results = asyncio.run(offer(f"http://127.0.0.1:{port}", bodies, args.rate))
        accepted = [r for r in results if r["status"] == 202 and r.get("request_id")]
        outcomes = posted_times(db_url, [r["request_id"] for r in accepted], args.settle)
    finally:
        stop_group(intake, 30)
        stop_group(worker, 30)

    span = max(r["answered"] for r in results) - min(r["due"] for r in results)
    errors = Counter(str(r["status"] or r.get("error")) for r in results if r["status"] != 202)
    answer = [r["answered"] - r["due"] for r in results if r["status"] == 202]
    to_posted = []
    for r in accepted:
        outcome, processed = outcomes.get(r["request_id"], ("MISSING", None))
        if outcome == "POSTED" and processed is not None:
            to_posted.append(max(0.0, processed - r["answered_wall"]))
    lost = len(accepted) - len(to_posted)
    print(
        f"achieved   : {len(answer) / span:.1f} orders/s answered 202 ({len(answer)} of {len(results)} in {span:.1f} s)"
    )
    print(f"202 answer : {percentiles(answer)}  (from each order's scheduled send)")
    print(f"202->POSTED: {percentiles(to_posted)}  (processed_at minus the 202's arrival)")
    print(f"outcomes   : {dict(Counter(o for o, _ in outcomes.values()))}")
    print(f"errors     : {sum(errors.values())} {dict(errors) or ''}")
    print(f"lost       : {lost} (accepted, not POSTED within {args.settle:g} s of the last send)")
    databases.drop(server, db_url)
    databases.drop(server, template)


if __name__ == "__main__":
    main()
