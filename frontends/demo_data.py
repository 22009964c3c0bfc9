"""A made-up but realistic shop and a day of its sales, for `tillpost demo` and the benchmarks.

Kopi & Co: four outlets (three tills and a web shop), a catalogue with zero-rated and untracked
items, loyalty customers. A day has walk-ins, loyalty sales, web orders, returns of earlier sales,
cash with rounding and change, and (when asked) a few bad requests of each kind.
Deterministic for a given seed. Amounts due come from the domain's own pricing.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import ROUND_CEILING, Decimal
from typing import Any

from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.refunds import SoldSku, refunds_for
from domain.posting.request import parse_request

SGT = timezone(timedelta(hours=8))
OUTLETS = {"ORCH": "Orchard Road", "TAMP": "Tampines Mall", "JEM": "Jurong East", "WEB": "Web shop"}
TILLS = ("ORCH", "TAMP", "JEM")
CASHIERS = ("amy", "ben", "chitra", "dinesh", "ella", "farid")
WORDS = ("Kopi", "Teh", "Kaya", "Pandan", "Gula Melaka", "Milo", "Durian", "Chendol", "Ondeh", "Bandung")
THINGS = ("Beans 250g", "Mug", "Tin", "Biscuits", "Gift Box", "Tote Bag", "Syrup", "Cookies", "Tumbler", "Sampler")
SPOILED_EVERY, SPOILED_AT = 500, 250  # with `bad`, request n is spoiled when n % 500 == 250 (see _spoil)


def catalogue(products: int = 120, customers: int = 300) -> dict[str, list[dict[str, Any]]]:
    """The demo shop's master data, by kind, as rows of its CSV files."""
    items = _products(products)
    return {
        "companies": [
            {
                "code": "KOPI",
                "name": "Kopi & Co Pte Ltd",
                "uen": "201912345K",
                "gst_registration_number": "M90312345X",
                "prices_include_gst": "true",
                "currency": "SGD",
            }
        ],
        "outlets": [
            {
                "code": c,
                "company": "KOPI",
                "name": f"Kopi & Co {name}",
                "address": f"{10 + i} {name}, Singapore {238800 + i}",
            }
            for i, (c, name) in enumerate(OUTLETS.items())
        ],
        "users": [{"company": "KOPI", "username": u, "full_name": u.title()} for u in CASHIERS],
        "products": items,
        "customers": [
            {"company": "KOPI", "code": f"M{n:05d}", "name": f"Member {n}", "email": f"member{n}@example.com"}
            for n in range(1, customers + 1)
        ],
        "stock": [
            {"outlet": o, "sku": p["sku"], "quantity": "100000"}
            for o in OUTLETS
            for p in items
            if p["track_inventory"] == "true"
        ],
    }


def _products(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    items = []
    for n in range(count):
        book = n % 25 == 0  # zero-rated: printed matter sold as exempt for the demo
        voucher = n % 40 == 1  # gift vouchers: no stock
        price = Decimal(rng.randrange(150, 6000)) / 100
        items.append(
            {
                "company": "KOPI",
                "sku": f"KC{n + 1:04d}",
                "name": f"{WORDS[n % len(WORDS)]} {THINGS[(n // 10) % len(THINGS)]}",
                "price": f"{price:.2f}",
                "gst_rate": "0.00" if book else "9.00",
                "cost": f"{price * Decimal('0.55'):.2f}",
                "track_inventory": "false" if voucher else "true",
                "reorder_point": "" if voucher else "20",
                "reorder_target": "" if voucher else "120",
                "supplier": ("Bean Bros" if n % 2 else "Lim Trading"),
            }
        )
    return items


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _infos(items: list[dict[str, Any]]) -> dict[str, ProductInfo]:
    return {
        p["sku"]: ProductInfo(
            i, p["sku"], p["name"], Decimal(p["price"]), Decimal(p["gst_rate"]), p["track_inventory"] == "true"
        )
        for i, p in enumerate(items)
    }


def day_of_sales(count: int, seed: int = 1, bad: bool = True, day: str = "2025-03-01") -> Iterator[str]:
    """JSON Lines text, one request a line. With `bad`, about 1 in 500 requests is wrong on purpose
    (`_spoil`: an unknown SKU, a short tender, a truncated line, an unknown field); every other one posts."""
    rng = random.Random(seed)
    shop = catalogue()
    products = _infos(shop["products"])
    skus = list(products)
    customers = [c["code"] for c in shop["customers"]]
    opening = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=SGT)
    earlier: list[_Sold] = []  # sales not returned yet, oldest first
    for n in range(count):
        at = opening + timedelta(seconds=int(43200 * n / max(count, 1)))
        request_id = f"{day}-{n + 1:07d}"
        if earlier and n > 1500 and rng.random() < 0.02:
            # a sale at least 1,000 requests back (posted before its return), returned once only
            original = earlier.pop(rng.randrange(max(len(earlier) - 1000, 0) or len(earlier)))
            request = _return_of(rng, original, request_id, at)
            request["tenders"] = _refund_tenders(request, original, products)
        else:
            request = _sale(rng, request_id, at, skus, customers)
            request["tenders"] = _tenders(rng, request, *_amounts_due(request, products))
        if bad and n % SPOILED_EVERY == SPOILED_AT:
            yield _spoil(rng, request, n)  # never returned later: its sale may not exist
            continue
        if request.get("kind") != "return" and len(earlier) < 50_000:
            earlier.append(_sold(request, products))
        yield json.dumps(request)


@dataclass(frozen=True)
class _Sold:
    """A sale of the day as the ledger will hold it: what each SKU took, and the sale's total."""

    request: dict[str, Any]
    skus: dict[str, SoldSku]
    total: Decimal


def _sold(request: dict[str, Any], products: dict[str, ProductInfo]) -> _Sold:
    priced = price_sale(parse_request(request), products, prices_include_gst=True)
    skus = {line.product.sku: SoldSku(line.quantity, line.amount, line.tax, line.gst_rate) for line in priced.lines}
    return _Sold(request, skus, priced.total)


def _sale(rng: random.Random, request_id: str, at: datetime, skus: list[str], customers: list[str]) -> dict[str, Any]:
    outlet = "WEB" if rng.random() < 0.15 else rng.choice(TILLS)
    lines = [{"sku": sku, "quantity": str(rng.choice((1, 1, 1, 2, 3)))} for sku in rng.sample(skus, rng.randint(1, 4))]
    if rng.random() < 0.1:
        lines[0]["discount"] = "1.00"
    request: dict[str, Any] = {
        "request_id": request_id,
        "outlet": outlet,
        "occurred_at": at.isoformat(),
        "lines": lines,
        "tenders": [],
    }
    if outlet == "WEB":
        request["channel"] = "web"
        request["customer"] = rng.choice(customers)
    else:
        request["cashier"] = rng.choice(CASHIERS)
        if rng.random() < 0.4:
            request["customer"] = rng.choice(customers)
    return request


def _return_of(rng: random.Random, original: _Sold, request_id: str, at: datetime) -> dict[str, Any]:
    """One unit of one line back, at what was paid for it (its share of any discount)."""
    sale = original.request
    sku = rng.choice(sale["lines"])["sku"]
    returned = {"sku": sku, "quantity": "1", "unit_price": f"{original.skus[sku].unit_price:.4f}"}
    request = {
        "request_id": request_id,
        "kind": "return",
        "original_request_id": sale["request_id"],
        "outlet": sale["outlet"],
        "channel": sale.get("channel", "pos"),
        "occurred_at": at.isoformat(),
        "lines": [returned],
        "tenders": [],
    }
    if sale["outlet"] != "WEB":
        request["cashier"] = rng.choice(CASHIERS)
    return request


def _refund_tenders(request: dict[str, Any], original: _Sold, products: dict[str, ProductInfo]) -> list[dict[str, str]]:
    """What the return refunds, as the ledger prices it: its share of what the sale took (refunds.py),
    in cash at a till (rounded to 0.05, never past what is left of the sale), by card on the web."""
    method = "CARD" if request.get("channel") == "web" else "CASH"
    # priced as a sale paid in cash (with a card tender beside it when not all cash), so that no
    # tender rule stands in the way of reading what is due
    tenders = [{"method": "CASH", "amount": "999999"}]
    if method != "CASH":
        tenders.append({"method": method, "amount": "0.01"})
    as_sale = {**request, "kind": "sale", "tenders": tenders}
    as_sale.pop("original_request_id")
    parsed = parse_request(as_sale)
    refunds = refunds_for(parsed.lines, original.skus)
    priced = price_sale(parsed, products, prices_include_gst=True, refunds=refunds, refund_limit=original.total)
    return [{"method": method, "amount": f"{priced.total:.2f}"}]


def _amounts_due(request: dict[str, Any], products: dict[str, ProductInfo]) -> tuple[Decimal, Decimal]:
    """What is due when paid all in cash (rounded to 0.05) and otherwise, priced as a sale."""
    as_sale = {**request, "kind": "sale", "tenders": [{"method": "CASH", "amount": "999999"}]}
    as_sale.pop("original_request_id", None)
    priced = price_sale(parse_request(as_sale), products, prices_include_gst=True)
    return priced.total, priced.total - priced.rounding_adjustment


def _tenders(rng: random.Random, request: dict[str, Any], cash_due: Decimal, due: Decimal) -> list[dict[str, str]]:
    if due == 0:
        return [{"method": "CASH", "amount": "1.00"}]
    if request.get("channel") == "web":
        return [{"method": "CARD", "amount": f"{due:.2f}"}]
    roll = rng.random()
    if roll < 0.35:
        cash = cash_due.quantize(Decimal(1), rounding=ROUND_CEILING)  # a note or two; change is given
        return [{"method": "CASH", "amount": f"{max(cash, cash_due):.2f}"}]
    if roll < 0.45 and due > 5:
        return [{"method": "CARD", "amount": f"{due - 5:.2f}"}, {"method": "CASH", "amount": "5.00"}]
    return [{"method": rng.choice(("CARD", "NETS", "PAYNOW")), "amount": f"{due:.2f}"}]


def _spoil(rng: random.Random, request: dict[str, Any], n: int) -> str:
    kind = (n // SPOILED_EVERY) % 4
    if kind == 0:
        request["lines"][0]["sku"] = "NO-SUCH-SKU"
    elif kind == 1:
        request["tenders"] = [{"method": "NETS", "amount": "0.50"}]
    elif kind == 2:
        return json.dumps(request)[:-5]  # a truncated line: not JSON at all
    else:
        request["colour"] = "red"  # an unknown field
    return json.dumps(request)
