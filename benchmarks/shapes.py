"""Day shapes for the benchmark: the demo shop's day (frontends/demo_data.py) and a big shop's day.

The large shape is a chain with a real catalogue: 5,000 products whose popularity is skewed (Zipf: the
product of rank r sells in proportion to 1/r), 20,000 members, 8 outlets, 1-8 lines a sale with an
explicit unit price on every line (the catalogue's, so every sale posts), 40% paid in cash (rounded to
0.05, change given on a round-up). Stock is high enough that no sale oversells. No returns and no bad
requests: every request is a sale the raw-SQL reference can post too. Deterministic for a seed.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from domain.posting.pricing import ProductInfo
from frontends.demo_data import SGT, _amounts_due, _infos, catalogue
from frontends.demo_data import day_of_sales as demo_day

PRODUCTS, MEMBERS, OUTLETS, CASHIERS_PER_OUTLET = 5_000, 20_000, 8, 5
STOCK = "10000000"  # per outlet and product: a 200,000-sale day sells ~9% of it for the top product
ZIPF_S = 1.0
CASH_SHARE, MEMBER_SHARE = 0.40, 0.35
COMPANY = "MEGA"


@dataclass(frozen=True)
class Shape:
    """What the benchmark needs of a day shape: its master data (rows of the CSV import, by kind) and
    its day (JSON Lines)."""

    name: str
    master_data: dict[str, list[dict[str, Any]]]

    def day(self, count: int, seed: int) -> Iterator[str]:
        if self.name == "demo":
            return demo_day(count, seed=seed, bad=True)
        return large_day(count, seed=seed, shop=self.master_data)


def shape(name: str) -> Shape:
    if name == "demo":
        return Shape("demo", catalogue())
    if name == "large":
        return Shape("large", large_shop())
    raise ValueError(f"unknown shape {name!r}: demo or large")


def outlet_codes() -> list[str]:
    return [f"S{n:02d}" for n in range(1, OUTLETS + 1)]


def cashiers_of(outlet: str) -> list[str]:
    return [f"{outlet.lower()}-till{n}" for n in range(1, CASHIERS_PER_OUTLET + 1)]


def large_shop() -> dict[str, list[dict[str, Any]]]:
    """The big shop's master data, by kind, as rows of its CSV files."""
    rng = random.Random(11)
    products = [_product(rng, n) for n in range(PRODUCTS)]
    outlets = outlet_codes()
    return {
        "companies": [
            {
                "code": COMPANY,
                "name": "Mega Mart Pte Ltd",
                "uen": "200412345M",
                "gst_registration_number": "M20041234Z",
                "prices_include_gst": "true",
                "currency": "SGD",
            }
        ],
        "outlets": [
            {"code": code, "company": COMPANY, "name": f"Mega Mart {code}", "address": f"{n} Mega Road, Singapore"}
            for n, code in enumerate(outlets, 1)
        ],
        "users": [
            {"company": COMPANY, "username": user, "full_name": user.title()}
            for o in outlets
            for user in cashiers_of(o)
        ],
        "products": products,
        "customers": [
            {"company": COMPANY, "code": f"MM{n:06d}", "name": f"Member {n}", "email": f"m{n}@example.com"}
            for n in range(1, MEMBERS + 1)
        ],
        "stock": [
            {"outlet": o, "sku": p["sku"], "quantity": STOCK}
            for o in outlets
            for p in products
            if p["track_inventory"] == "true"
        ],
    }


def _product(rng: random.Random, n: int) -> dict[str, Any]:
    price = Decimal(rng.randrange(50, 20000)) / 100
    untracked = n % 50 == 7  # services and vouchers: no stock
    return {
        "company": COMPANY,
        "sku": f"P{n + 1:05d}",
        "name": f"Item {n + 1}",
        "price": f"{price:.2f}",
        "gst_rate": "0.00" if n % 30 == 3 else "9.00",
        "cost": f"{price * Decimal('0.6'):.2f}",
        "track_inventory": "false" if untracked else "true",
        "reorder_point": "" if untracked else "50",
        "reorder_target": "" if untracked else "500",
        "supplier": f"Supplier {n % 20 + 1}",
    }


def zipf_weights(count: int, s: float = ZIPF_S) -> list[float]:
    """Cumulative weights of ranks 1..count, rank r weighing 1/r**s."""
    return list(itertools.accumulate(1 / rank**s for rank in range(1, count + 1)))


def pick_distinct(rng: random.Random, cumulative: list[float], k: int) -> list[int]:
    """k distinct indexes drawn by the cumulative weights (a sale lists a product once)."""
    chosen: list[int] = []
    total = cumulative[-1]
    while len(chosen) < k:
        index = bisect.bisect_left(cumulative, rng.random() * total)
        if index not in chosen:
            chosen.append(index)
    return chosen


def large_day(
    count: int, seed: int = 1, day: str = "2025-03-01", shop: dict[str, list[dict[str, Any]]] | None = None
) -> Iterator[str]:
    """JSON Lines text of the big shop's day: every request a sale that posts."""
    rng = random.Random(seed)
    shop = shop or large_shop()
    products = _infos(shop["products"])
    skus = list(products)
    rng.shuffle(skus)  # popularity is not the catalogue's order
    cumulative = zipf_weights(len(skus))
    members = [c["code"] for c in shop["customers"]]
    outlets = [o["code"] for o in shop["outlets"]]
    opening = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=SGT)
    for n in range(count):
        outlet = rng.choice(outlets)
        lines = []
        for index in pick_distinct(rng, cumulative, rng.randint(1, 8)):
            sku = skus[index]
            quantity = rng.choice((1, 1, 1, 1, 2, 2, 3, 6))
            lines.append({"sku": sku, "quantity": str(quantity), "unit_price": f"{products[sku].price:.2f}"})
        request: dict[str, Any] = {
            "request_id": f"L{day}-{n + 1:07d}",
            "outlet": outlet,
            "occurred_at": (opening + timedelta(seconds=int(43200 * n / max(count, 1)))).isoformat(),
            "cashier": rng.choice(cashiers_of(outlet)),
            "lines": lines,
            "tenders": [],
        }
        if rng.random() < MEMBER_SHARE:
            request["customer"] = rng.choice(members)
        request["tenders"] = _large_tenders(rng, request, products)
        yield json.dumps(request)


def _large_tenders(
    rng: random.Random, request: dict[str, Any], products: dict[str, ProductInfo]
) -> list[dict[str, str]]:
    cash_due, due = _amounts_due(request, products)
    if rng.random() < CASH_SHARE:
        if rng.random() < 0.5:  # a note or two: change is given
            return [{"method": "CASH", "amount": f"{cash_due.quantize(Decimal(1), rounding=ROUND_CEILING):.2f}"}]
        return [{"method": "CASH", "amount": f"{cash_due:.2f}"}]
    return [{"method": rng.choice(("CARD", "NETS", "PAYNOW")), "amount": f"{due:.2f}"}]
