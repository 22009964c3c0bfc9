"""Pricing a sale request: lines, GST, totals, cash rounding and tenders. Pure: no database.

Returns are priced like sales and then signed negative, so the ledger nets with a plain SUM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import FieldError, Invalid, TenderMismatch, TenderShort, UnknownSku
from domain.money import ZERO, cash_rounding, line_amount, line_tax
from domain.requests import Kind, Line, SaleRequest, TenderMethod


@dataclass(frozen=True)
class ProductInfo:
    id: int
    sku: str
    name: str
    price: Decimal
    gst_rate: Decimal
    track_inventory: bool


@dataclass(frozen=True)
class PricedLine:
    line_no: int
    product: ProductInfo
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    gst_rate: Decimal
    tax: Decimal


@dataclass(frozen=True)
class PricedTender:
    method: str
    amount: Decimal
    reference: str | None


@dataclass(frozen=True)
class PricedSale:
    lines: list[PricedLine]
    tenders: list[PricedTender]
    subtotal: Decimal
    tax: Decimal
    rounding_adjustment: Decimal
    total: Decimal
    tendered: Decimal
    change_due: Decimal


def price_sale(request: SaleRequest, products: Mapping[str, ProductInfo], prices_include_gst: bool) -> PricedSale:
    """Apply DOMAIN.md's money rules; raise the first rejection a careful cashier would see."""
    missing = sorted({line.sku for line in request.lines if line.sku not in products})
    if missing:
        raise UnknownSku(f"unknown SKU(s) for this company: {', '.join(missing)}", skus=missing)
    sign = Decimal(-1) if request.kind is Kind.RETURN else Decimal(1)
    lines = [_price_line(n, line, products[line.sku], prices_include_gst, sign) for n, line in enumerate(request.lines)]
    subtotal = sum((line.amount for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    before_rounding = subtotal if prices_include_gst else subtotal + tax
    all_cash = all(t.method is TenderMethod.CASH for t in request.tenders)
    rounding = sign * cash_rounding(abs(before_rounding)) if all_cash else ZERO
    total = before_rounding + rounding
    _check_fits_the_ledger(lines, [subtotal, tax, total, sum((t.amount for t in request.tenders), ZERO)])
    tenders = [PricedTender(t.method.value, sign * t.amount, t.reference) for t in request.tenders]
    change = _change_due(request, abs(total))
    return PricedSale(
        lines=lines,
        tenders=tenders,
        subtotal=subtotal,
        tax=tax,
        rounding_adjustment=rounding,
        total=total,
        tendered=sum((t.amount for t in tenders), ZERO),
        change_due=change,
    )


def _price_line(n: int, line: Line, product: ProductInfo, included: bool, sign: Decimal) -> PricedLine:
    unit_price = product.price if line.unit_price is None else line.unit_price
    gross = line.quantity * unit_price
    if line.discount > gross:
        raise Invalid([FieldError(f"lines[{n}].discount", f"{line.discount} is more than the line's {gross:.2f}")])
    amount = line_amount(line.quantity, unit_price, line.discount)
    return PricedLine(
        line_no=n + 1,
        product=product,
        quantity=sign * line.quantity,
        unit_price=unit_price,
        discount=line.discount,
        amount=sign * amount,
        gst_rate=product.gst_rate,
        tax=sign * line_tax(amount, product.gst_rate, included),
    )


MONEY_LIMIT = Decimal(10) ** 12  # a NUMERIC(14, 2) money column holds less than this
QUANTITY_LIMIT = Decimal(10) ** 11  # and a NUMERIC(14, 3) quantity (a stock movement) less than this


def _check_fits_the_ledger(lines: list[PricedLine], sums: list[Decimal]) -> None:
    """Each field fits its column (requests.py), but sums of them may not: INVALID, never a database error."""
    moved: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        moved[line.product.sku] += abs(line.quantity)
    problems = [
        FieldError("lines", f"{sku}: a quantity of {qty} is more than the ledger holds")
        for sku, qty in moved.items()
        if qty >= QUANTITY_LIMIT
    ]
    if any(abs(amount) >= MONEY_LIMIT for amount in sums):
        problems.append(FieldError("", "the sale's amounts reach 10^12 or more, more than the ledger holds"))
    if problems:
        raise Invalid(problems)


def _change_due(request: SaleRequest, due: Decimal) -> Decimal:
    """Sales: tenders must cover what is due; change only out of cash. Refunds: exactly what is due."""
    tendered = sum((t.amount for t in request.tenders), ZERO)
    if tendered < due:
        what = "refund tenders" if request.kind is Kind.RETURN else "tenders"
        raise TenderShort(f"{what} {tendered} do not cover {due}", tendered=str(tendered), due=str(due))
    excess = tendered - due
    if request.kind is Kind.RETURN and excess:
        raise TenderMismatch(
            f"refund tenders {tendered} are more than the {due} refunded", tendered=str(tendered), due=str(due)
        )
    cash = sum((t.amount for t in request.tenders if t.method is TenderMethod.CASH), ZERO)
    if excess > cash:
        raise TenderMismatch(
            f"non-cash tenders overpay {due} by {excess - cash}; change is given only out of cash",
            tendered=str(tendered),
            due=str(due),
        )
    return excess
