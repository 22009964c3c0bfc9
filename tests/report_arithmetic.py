"""The test's own arithmetic for X/Z and GST F5 figures, from the request files alone: never the
project's pricing, refunds or report code. Decimal, ROUND_HALF_UP, per the rules of ../shared/DOMAIN.md
(line amounts and GST rounded to cents per line, all-cash sales to the nearest 0.05) and of the README
(a return of a known sale refunds its share of what the sale's line took, rounded over the running sum;
cash refunds never past what is left of the sale). Every request given is one that posts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

SG = ZoneInfo("Asia/Singapore")
CENT, NICKEL, ZERO = Decimal("0.01"), Decimal("0.05"), Decimal(0)


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Item:
    price: Decimal
    rate: Decimal
    category: str


@dataclass
class Line:
    sku: str
    rate: Decimal
    category: str
    gross: Decimal  # quantity x price, to the cent (sales only; 0 on returns)
    amount: Decimal  # unsigned, as the company's prices state it
    tax: Decimal  # unsigned


@dataclass
class Posted:
    request_id: str
    kind: str
    outlet: str
    cashier: str | None
    day: date
    lines: list[Line]
    rounding: Decimal  # signed
    total: Decimal  # signed
    tenders: dict[str, Decimal]  # signed
    change: Decimal
    original: str  # the sale a return names ("" for none)
    quantities: dict[str, Decimal]  # unsigned, per SKU

    @property
    def sign(self) -> Decimal:
        return Decimal(-1) if self.kind == "return" else Decimal(1)


@dataclass
class Ledger:
    """Requests priced one after another, in the order they post."""

    items: dict[str, Item]
    included: bool
    posted: dict[str, Posted] = field(default_factory=dict)
    returned: dict[tuple[str, str], list[Decimal]] = field(default_factory=dict)  # qty, amount, tax back

    def tax_of(self, amount: Decimal, rate: Decimal) -> Decimal:
        return r2(amount * rate / ((100 + rate) if self.included else 100))

    def due(self, request: dict[str, Any], commit: bool = False) -> tuple[Decimal, bool, list[Line]]:
        """(unsigned amount due after cash rounding, all cash?, lines) of a request; with `commit`,
        what its lines give back counts against its sale from now on."""
        kind = request.get("kind", "sale")
        original = self.posted.get(request.get("original_request_id") or "")
        returned = {key: list(back) for key, back in self.returned.items()}
        lines = [self._line(kind, line, original, returned) for line in request["lines"]]
        if commit:
            self.returned = returned
        subtotal = sum((x.amount for x in lines), ZERO)
        before = subtotal if self.included else subtotal + sum((x.tax for x in lines), ZERO)
        all_cash = all(t["method"] == "CASH" for t in request["tenders"])
        due = (before / NICKEL).quantize(Decimal(1), rounding=ROUND_HALF_UP) * NICKEL if all_cash else before
        if original is not None:
            left = original.total + sum(
                (p.total for p in self.posted.values() if p.kind == "return" and p.original == original.request_id),
                ZERO,
            )
            if due > left:
                due = (left / NICKEL).to_integral_value(rounding=ROUND_FLOOR) * NICKEL if all_cash else left
        return r2(due), all_cash, lines

    def post(self, request: dict[str, Any]) -> Posted:
        due, _, lines = self.due(request, commit=True)
        kind = request.get("kind", "sale")
        sign = Decimal(-1) if kind == "return" else Decimal(1)
        subtotal = sum((x.amount for x in lines), ZERO)
        before = subtotal if self.included else subtotal + sum((x.tax for x in lines), ZERO)
        tenders: dict[str, Decimal] = defaultdict(Decimal)
        for t in request["tenders"]:
            tenders[t["method"]] += sign * Decimal(t["amount"])
        paid = sum((Decimal(t["amount"]) for t in request["tenders"]), ZERO)
        quantities: dict[str, Decimal] = defaultdict(Decimal)
        for line in request["lines"]:
            quantities[line["sku"]] += Decimal(line["quantity"])
        posted = Posted(
            request["request_id"],
            kind,
            request["outlet"],
            request.get("cashier"),
            datetime.fromisoformat(request["occurred_at"]).astimezone(SG).date(),
            lines,
            sign * (due - before),
            sign * due,
            dict(tenders),
            paid - due,
            request.get("original_request_id") or "",
            quantities,
        )
        self.posted[posted.request_id] = posted
        return posted

    def _line(self, kind: str, line: dict[str, Any], original: Posted | None, returned: dict[Any, Any]) -> Line:
        sku, qty = line["sku"], Decimal(line["quantity"])
        if kind == "return" and original is not None:
            return self._refund(original, sku, qty, returned)
        item = self.items[sku]
        price = Decimal(line["unit_price"]) if line.get("unit_price") not in (None, "") else item.price
        discount = Decimal(line.get("discount") or "0")
        amount = r2(qty * price - discount)
        gross = r2(qty * price) if kind == "sale" else ZERO
        return Line(sku, item.rate, item.category, gross, amount, self.tax_of(amount, item.rate))

    def _refund(self, original: Posted, sku: str, qty: Decimal, returned: dict[Any, Any]) -> Line:
        sold = [x for x in original.lines if x.sku == sku]
        sold_qty = original.quantities[sku]
        paid, tax = sum((x.amount for x in sold), ZERO), sum((x.tax for x in sold), ZERO)
        back = returned.setdefault((original.request_id, sku), [ZERO, ZERO, ZERO])
        back[0] += qty
        amount = min(max(r2(paid * back[0] / sold_qty) - back[1], ZERO), paid - back[1])
        refund_tax = min(max(r2(tax * back[0] / sold_qty) - back[2], ZERO), tax - back[2])
        back[1] += amount
        back[2] += refund_tax
        return Line(sku, sold[0].rate, self.items[sku].category, ZERO, amount, refund_tax)


def post_all(ledger: Ledger, requests: list[dict[str, Any]]) -> None:
    for request in requests:
        ledger.post(request)


def money(x: Decimal) -> str:
    return str(r2(x))


def day_figures(ledger: Ledger, outlet: str, day: date, cashier: str | None = None) -> dict[str, Any]:
    """Every figure of `report x` for the outlet's day, by the test's own sums (no counted cash)."""
    sales = [p for p in ledger.posted.values() if p.outlet == outlet and p.day == day]
    if cashier is not None:
        sales = [p for p in sales if p.cashier == cashier]
    gross = sold = refunds = tax = ZERO
    by_rate: dict[Decimal, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for p in sales:
        for x in p.lines:
            ex = x.amount - (x.tax if ledger.included else ZERO)
            if p.kind == "sale":
                gross += x.gross - (r2(x.gross * x.rate / (100 + x.rate)) if ledger.included else ZERO)
                sold += ex
            else:
                refunds += ex
            tax += p.sign * x.tax
            by_rate[x.rate][0] += p.sign * ex
            by_rate[x.rate][1] += p.sign * x.tax
    tenders: dict[str, Decimal] = defaultdict(Decimal)
    for p in sales:
        for method, amount in p.tenders.items():
            tenders[method] += amount
    change = sum((p.change for p in sales), ZERO)
    return {
        "sales": sum(1 for p in sales if p.kind == "sale"),
        "returns": sum(1 for p in sales if p.kind == "return"),
        "gross_sales": money(gross),
        "discounts": money(gross - sold),
        "refunds": money(refunds),
        "net_sales": money(sold - refunds),
        "tax": money(tax),
        "rounding": money(sum((p.rounding for p in sales), ZERO)),
        "total_collected": money(sum((p.total for p in sales), ZERO)),
        "tenders": {m: money(a) for m, a in sorted(tenders.items())},
        "change_given": money(change),
        "expected_cash": money(tenders.get("CASH", ZERO) - change),
        "by_gst_rate": [
            {"rate": str(rate.quantize(CENT)), "base": money(v[0]), "tax": money(v[1])}
            for rate, v in sorted(by_rate.items())
        ],
    }


def f5_boxes(ledger: Ledger, first: date, last: date) -> dict[str, str]:
    value: dict[str, Decimal] = defaultdict(Decimal)
    tax = ZERO
    for p in ledger.posted.values():
        if first <= p.day <= last:
            for x in p.lines:
                value[x.category] += p.sign * (x.amount - (x.tax if ledger.included else ZERO))
                tax += p.sign * x.tax
    boxes = {"box1": value["standard"], "box2": value["zero_rated"], "box3": value["exempt"]}
    return {
        **{k: money(v) for k, v in boxes.items()},
        "box4": money(sum(boxes.values(), ZERO)),
        "box6": money(tax),
        "out_of_scope": money(value["out_of_scope"]),
    }
