"""One trading day of the UCI "Online Retail" data (../shared/data/online-retail) as tillpost input:
master-data CSV files for `tillpost import` and a JSON Lines batch for `tillpost post`.

Columns: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country.
One request per invoice, its rows as lines. What the real files hold (read from all 305 days), and
what becomes of it here; nothing is dropped:

- Invoices starting with "C" are cancellations with negative quantities: a "return" with positive
  quantities and no original_request_id (which invoice they cancel is not recorded). A refund must
  be tendered exactly, so its cash is the amount due to the cent after cash rounding. No cancellation
  in the data comes to zero (a refund of 0 could not be tendered: amounts are > 0); one would raise here.
- 1,336 rows of ordinary invoices have negative quantities, all at price 0, all without a customer,
  whole invoices of them ("damaged", "thrown away", "check", "?", or no description): stock written
  off. They post as a sale of the absolute quantity at price 0 (the goods leave stock, no money
  moves), with a note saying so.
- Three invoices starting with "A" ("Adjust bad debt", StockCode B): one at +11,062.06 and two at
  -11,062.06. A negative price is not a price: those post as a return of B at the absolute price.
- 2,515 rows with price 0 (samples, "found", manual fixes): valid lines at unit_price "0.0". An
  invoice can come to 0 (2,102 do): it is tendered S$1 cash and gets S$1 change.
- 49 invoices have more than 500 rows (up to 1,114), the most one request may carry: they are cut
  into requests of 500 lines, "536544/1", "536544/2", ..., each paid on its own.
- 43 invoices have rows at two different minutes: occurred_at is the earliest.
- InvoiceDate has no zone; it is the shop's local time in London, so the offset is +00:00 in winter
  and +01:00 in British summer time.
- CustomerID is written as a float ("17850.0"): code "17850". Empty (135,080 rows) = walk-in, customer null.
- StockCodes that are not goods: POST, DOT (postage), C2 (carriage), M/m (manual), D (discount), S
  (samples), B (bad debt), CRUK (commission), BANK CHARGES, AMAZONFEE, gift_0001_10..50 (vouchers):
  products that do not track inventory. Vouchers, bank charges, fees, commission and bad debt carry
  0% GST (not a supply of goods); everything else the standard 9%. DCGS... and PADS are goods.
- StockCodes differ only by case ("85123A" / "85123a"): kept as written, two SKUs (the till's own codes).
- A StockCode can have several prices (3,603 of 4,070 codes over the year) and several descriptions
  (1,324), some empty, 113,452 rows padded with spaces: each line carries its own unit_price; the
  catalogue takes the day's commonest non-zero price and first non-empty description, stripped
  (the code itself when there is none).
- Invoices repeat a StockCode on several rows (2,864), some rows identical (1,933): kept as
  separate lines; a till that scans an item twice sells it twice.
- Prices have at most 3 decimal places (PADS at 0.001); quantities reach 80,995 (and its
  cancellation): each outlet gets exactly the stock the day takes out of it, so nothing oversells.
- Countries include "EIRE", "RSA", "Channel Islands", "European Community" and "Unspecified":
  each country is an outlet, with a short code (OUTLET_CODES).
- Descriptions contain commas and quotes ('RECORD FRAME 7" SINGLE SIZE '): read with the csv module.

Prices include GST (Singapore shelf prices); every invoice is paid in cash.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

COMPANY = "ORL"
CASHIER = "online"
MAX_LINES = 500
LONDON = ZoneInfo("Europe/London")
CENT, NICKEL = Decimal("0.01"), Decimal("0.05")

NOT_GOODS = {"POST", "DOT", "C2", "M", "m", "D", "S", "B", "CRUK", "BANK CHARGES", "AMAZONFEE"}
ZERO_RATED = {"B", "CRUK", "BANK CHARGES", "AMAZONFEE"}

OUTLET_CODES = {
    "Australia": "AU",
    "Austria": "AT",
    "Bahrain": "BH",
    "Belgium": "BE",
    "Brazil": "BR",
    "Canada": "CA",
    "Channel Islands": "CI",
    "Cyprus": "CY",
    "Czech Republic": "CZ",
    "Denmark": "DK",
    "EIRE": "IE",
    "European Community": "EC",
    "Finland": "FI",
    "France": "FR",
    "Germany": "DE",
    "Greece": "GR",
    "Hong Kong": "HK",
    "Iceland": "IS",
    "Israel": "IL",
    "Italy": "IT",
    "Japan": "JP",
    "Lebanon": "LB",
    "Lithuania": "LT",
    "Malta": "MT",
    "Netherlands": "NL",
    "Norway": "NO",
    "Poland": "PL",
    "Portugal": "PT",
    "RSA": "ZA",
    "Saudi Arabia": "SA",
    "Singapore": "SG",
    "Spain": "ES",
    "Sweden": "SE",
    "Switzerland": "CH",
    "USA": "US",
    "United Arab Emirates": "AE",
    "United Kingdom": "UK",
    "Unspecified": "XX",
}

MASTER_KINDS = ("companies", "outlets", "users", "products", "customers", "stock")


@dataclass
class Day:
    """The files written for one day, and what the source says the ledger should hold after it."""

    batch: Path
    master: dict[str, Path]
    invoices: list[str] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)
    walk_ins: list[str] = field(default_factory=list)
    net_sales: Decimal = Decimal("0.00")
    stock_after: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def convert(source: Path, out_dir: Path) -> Day:
    """Write `out_dir`/{companies,...,stock}.csv and `out_dir`/<day>.jsonl; return what they hold."""
    rows = read_rows(source)
    invoices: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        invoices[row["InvoiceNo"]].append(row)
    out_dir.mkdir(parents=True, exist_ok=True)
    day = Day(batch=out_dir / f"{source.stem}.jsonl", master={k: out_dir / f"{k}.csv" for k in MASTER_KINDS})
    taken_out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    brought_back: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with day.batch.open("w", encoding="utf-8") as batch:
        for number, invoice_rows in invoices.items():
            day.invoices.append(number)
            for request in invoice_requests(number, invoice_rows):
                batch.write(json.dumps(request) + "\n")
                day.request_ids.append(request["request_id"])
                due = amount_due(request["lines"])
                returned = request["kind"] == "return"
                day.net_sales += -due if returned else due
                if returned:
                    day.returns.append(request["request_id"])
                if request["customer"] is None:
                    day.walk_ins.append(request["request_id"])
                for line in request["lines"]:
                    if not is_goods(line["sku"]):
                        continue
                    key = (request["outlet"], line["sku"])
                    (brought_back if returned else taken_out)[key] += Decimal(line["quantity"])
    # Each outlet opens with exactly what the day takes out of it, so it closes with what came back.
    opening = dict(taken_out)
    day.stock_after = {key: brought_back.get(key, Decimal(0)) for key in opening.keys() | brought_back.keys()}
    _write_master(day, rows, opening)
    return day


def invoice_requests(number: str, rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The request(s) of one invoice: one, or one per 500 lines."""
    kind, note = "sale", None
    if number.startswith("C"):
        kind = "return"
    elif number.startswith("A"):
        note = "bad debt adjustment"
        kind = "return" if Decimal(rows[0]["UnitPrice"]) < 0 else "sale"
    elif all(int(r["Quantity"]) < 0 for r in rows):
        note = "stock written off: " + "; ".join(sorted({r["Description"].strip() or "?" for r in rows}))[:450]
    elif any(int(r["Quantity"]) < 0 for r in rows):
        raise ValueError(f"invoice {number} mixes sold and negative quantities: no rule for that yet")
    parts = [rows[start : start + MAX_LINES] for start in range(0, len(rows), MAX_LINES)]
    first = rows[0]
    occurred = min(datetime.fromisoformat(r["InvoiceDate"]) for r in rows).replace(tzinfo=LONDON)
    requests = []
    for n, part in enumerate(parts, start=1):
        lines = [
            {"sku": r["StockCode"], "quantity": str(abs(int(r["Quantity"]))), "unit_price": _price(r["UnitPrice"])}
            for r in part
        ]
        requests.append(
            {
                "request_id": number if len(parts) == 1 else f"{number}/{n}",
                "kind": kind,
                "outlet": OUTLET_CODES[first["Country"]],
                "channel": "pos",
                "occurred_at": occurred.isoformat(),
                "cashier": CASHIER,
                "customer": customer_code(first["CustomerID"]),
                "lines": lines,
                "tenders": [{"method": "CASH", "amount": str(_cash(amount_due(lines), refund=kind == "return"))}],
                "notes": note,
            }
        )
    return requests


def is_goods(sku: str) -> bool:
    return sku not in NOT_GOODS and not sku.startswith("gift_")


def customer_code(raw: str) -> str | None:
    return raw.removesuffix(".0") or None


def amount_due(lines: list[dict[str, str]]) -> Decimal:
    """DOMAIN.md's rule: prices include GST, each line rounded to cents half up, cash rounded to 0.05."""
    total = sum((Decimal(ln["quantity"]) * Decimal(ln["unit_price"])).quantize(CENT, ROUND_HALF_UP) for ln in lines)
    return ((total / NICKEL).quantize(Decimal(1), ROUND_HALF_UP) * NICKEL).quantize(CENT)


def _cash(due: Decimal, refund: bool) -> Decimal:
    if refund:
        if due <= 0:
            raise ValueError("a refund of 0 cannot be tendered")
        return due
    return (due.to_integral_value(ROUND_FLOOR) + 1).quantize(CENT)  # the next whole dollar: change is given


def _price(raw: str) -> str:
    price = abs(Decimal(raw))
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise ValueError(f"price {raw} has more than 4 decimal places")
    return format(price, "f")


def _write_master(day: Day, rows: list[dict[str, str]], opening: dict[tuple[str, str], Decimal]) -> None:
    outlets = sorted({(OUTLET_CODES[r["Country"]], r["Country"]) for r in rows})
    customers = sorted({code for r in rows if (code := customer_code(r["CustomerID"]))})
    _write(
        day.master["companies"],
        ("code", "name", "uen", "gst_registration_number", "prices_include_gst"),
        [(COMPANY, "Online Retail Ltd", "201000001A", "M90000001A", "true")],
    )
    _write(
        day.master["outlets"],
        ("code", "company", "name", "address"),
        [(code, COMPANY, f"Online orders from {country}", country) for code, country in outlets],
    )
    _write(day.master["users"], ("company", "username", "full_name"), [(COMPANY, CASHIER, "Online orders desk")])
    _write(
        day.master["products"],
        (
            "company",
            "sku",
            "name",
            "price",
            "gst_rate",
            "cost",
            "track_inventory",
            "reorder_point",
            "reorder_target",
            "supplier",
        ),
        _products(rows),
    )
    _write(
        day.master["customers"],
        ("company", "code", "name", "email"),
        [(COMPANY, code, f"Customer {code}", "") for code in customers],
    )
    _write(
        day.master["stock"],
        ("outlet", "sku", "quantity"),
        [(outlet, sku, format(qty, "f")) for (outlet, sku), qty in sorted(opening.items())],
    )


def _products(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    names: dict[str, str] = {}
    prices: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        sku = r["StockCode"]
        if not names.get(sku):
            names[sku] = r["Description"].strip()
        price = _price(r["UnitPrice"])
        if Decimal(price):
            prices[sku][price] += 1
    products = []
    for sku in sorted(names):
        goods = is_goods(sku)
        rate = "0" if sku in ZERO_RATED or sku.startswith("gift_") else "9"
        price = prices[sku].most_common(1)[0][0] if prices[sku] else "0"
        products.append((COMPANY, sku, names[sku] or sku, price, rate, "", "true" if goods else "false", "", "", ""))
    return products


def _write(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
