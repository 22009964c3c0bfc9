"""Pricing a sale request: lines, GST, totals, cash rounding and tenders. Pure: no database.

Returns are priced like sales and then signed negative, so the ledger nets with a plain SUM. A return
of a known sale brings its lines' refunds (refunds.py) and what is left of the sale's total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from domain.errors import (
    CurrencyMismatch,
    FieldError,
    Invalid,
    TaxModeMismatch,
    TenderMismatch,
    TenderShort,
    UnknownSku,
    UnmappedRefund,
)
from domain.posting.money import NICKEL, ZERO, cash_rounding, cents, line_amount, line_tax
from domain.posting.refunds import Refund
from domain.posting.request import UNMAPPED_REFUND_SKU, Kind, Line, SaleRequest, TenderMethod


@dataclass(frozen=True)
class ProductInfo:
    id: int
    sku: str
    name: str
    price: Decimal
    gst_rate: Decimal
    track_inventory: bool
    gst_category: str = "standard"  # GST F5's box (domain.vocabulary.GstCategory), stored on each line


@dataclass(frozen=True)
class LineFigures:
    """What a line charges, as pricing works it out, the ledger stores it and a receipt prints it
    (a return's quantity, amount and GST negative)."""

    quantity: Decimal
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    gst_rate: Decimal
    tax: Decimal


@dataclass(frozen=True, kw_only=True)
class PricedLine(LineFigures):
    line_no: int
    product: ProductInfo


@dataclass(frozen=True)
class PricedTender:
    """A tender as the ledger stores it and a receipt prints it (a refund's amount negative)."""

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


def check_terms(request: SaleRequest, currency: str, prices_include_gst: bool) -> None:
    """What a web order states about itself must hold for its company: its currency and the shop's
    tax mode (the ledger never converts or re-bases prices). A refund that matched no line is for a person."""
    if any(line.sku == UNMAPPED_REFUND_SKU for line in request.lines):
        amount = sum((t.amount for t in request.tenders), ZERO)
        raise UnmappedRefund(
            f"a refund of {amount} matches no line of {request.original_request_id or 'its order'}: "
            "handle it by hand (an order adjustment or an amount-only refund)",
            amount=str(amount),
            original_request_id=request.original_request_id,
        )
    if request.currency is not None and request.currency != currency:
        raise CurrencyMismatch(
            f"the order is in {request.currency}; the company's currency is {currency}",
            currency=request.currency,
            company_currency=currency,
        )
    if request.prices_include_gst is not None and request.prices_include_gst != prices_include_gst:
        raise TaxModeMismatch(
            f"the shop's prices {_mode(request.prices_include_gst)} tax; the company's {_mode(prices_include_gst)} GST",
            prices_include_gst=request.prices_include_gst,
            company_prices_include_gst=prices_include_gst,
        )


def _mode(included: bool) -> str:
    return "include" if included else "exclude"


def price_sale(
    request: SaleRequest,
    products: Mapping[str, ProductInfo],
    prices_include_gst: bool,
    refunds: Sequence[Refund] | None = None,
    refund_limit: Decimal | None = None,
) -> PricedSale:
    """Apply DOMAIN.md's money rules; raise the first rejection a careful cashier would see.

    A return of a known sale gives `refunds` (one per line: its amount and GST come from the sale)
    and `refund_limit`, what is left of the sale's total after its earlier returns."""
    missing = sorted({line.sku for line in request.lines if line.sku not in products})
    if missing:
        raise UnknownSku(f"unknown SKU(s) for this company: {', '.join(missing)}", skus=missing)
    sign = Decimal(-1) if request.kind is Kind.RETURN else Decimal(1)
    given = refunds if refunds is not None else [None] * len(request.lines)
    lines = [
        _price_line(n, line, products[line.sku], prices_include_gst, sign, refund)
        for n, (line, refund) in enumerate(zip(request.lines, given, strict=True))
    ]
    subtotal = sum((line.amount for line in lines), ZERO)
    tax = sum((line.tax for line in lines), ZERO)
    before_rounding = subtotal if prices_include_gst else subtotal + tax
    all_cash = all(t.method is TenderMethod.CASH for t in request.tenders)
    total = sign * _amount_due(abs(before_rounding), all_cash, refund_limit)
    rounding = total - before_rounding
    _check_fits_the_ledger([subtotal, tax, total, sum((t.amount for t in request.tenders), ZERO)])
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


def _amount_due(before_rounding: Decimal, all_cash: bool, refund_limit: Decimal | None) -> Decimal:
    """What is due (or refunded), unsigned: all in cash, to the nearest 0.05. A refund of a known sale
    never takes its refunds past the sale's total: one that would (cash rounding up, or the sale's own
    rounding down) is cut to what is left of it, in cash to the 0.05 at or below that."""
    due = before_rounding + cash_rounding(before_rounding) if all_cash else before_rounding
    if refund_limit is not None and due > refund_limit:
        left = max(refund_limit, ZERO)
        due = cents((left / NICKEL).to_integral_value(rounding=ROUND_FLOOR) * NICKEL) if all_cash else left
    return due


def _price_line(
    n: int, line: Line, product: ProductInfo, included: bool, sign: Decimal, refund: Refund | None
) -> PricedLine:
    if refund is not None:
        return PricedLine(
            line_no=n + 1,
            product=product,
            quantity=sign * line.quantity,
            unit_price=refund.unit_price,
            discount=line.discount,
            amount=sign * refund.amount,
            gst_rate=refund.gst_rate,
            tax=sign * refund.tax,
        )
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


def _check_fits_the_ledger(sums: list[Decimal]) -> None:
    """Each value is bounded at intake (requests.py) and a sale its tenders can pay fits the ledger,
    but many lines at the largest price can add up past a column: INVALID, never a database error.
    (Quantities need no such check: 500 lines of the most a line carries move far less than 10^11.)"""
    if any(abs(amount) >= MONEY_LIMIT for amount in sums):
        raise Invalid([FieldError("", "the sale's amounts reach 10^12 or more, more than the ledger holds")])


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
