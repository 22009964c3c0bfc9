"""Money rules: Decimal only, cents rounded half up per line, GST split, cash rounding to 0.05."""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
NICKEL = Decimal("0.05")
ZERO = Decimal("0.00")


def cents(amount: Decimal) -> Decimal:
    """Round to cents, half up (0.005 -> 0.01), as Singapore receipts do."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def line_amount(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    """What the line charges: quantity x price less the discount, rounded to cents once."""
    return cents(quantity * unit_price - discount)


def line_tax(amount: Decimal, rate: Decimal, prices_include_gst: bool) -> Decimal:
    """GST on one line. Included: amount x rate / (100 + rate). Excluded: amount x rate / 100."""
    if rate == 0:
        return ZERO
    divisor = (100 + rate) if prices_include_gst else Decimal(100)
    return cents(amount * rate / divisor)


def cash_rounding(due: Decimal) -> Decimal:
    """Adjustment that brings an all-cash amount due to the nearest 0.05 (0.02 -> -0.02, 0.03 -> +0.02)."""
    rounded = (due / NICKEL).quantize(Decimal(1), rounding=ROUND_HALF_UP) * NICKEL
    return cents(rounded - due)


def loyalty_points(total: Decimal, dollars_per_point: Decimal) -> int:
    """Whole points a sale earns: floor(total / dollars_per_point); never negative."""
    if total <= 0 or dollars_per_point <= 0:
        return 0
    return int((total / dollars_per_point).to_integral_value(rounding=ROUND_FLOOR))


def without_trailing_zeros(number: Decimal) -> str:
    """2.000 -> 2, 1.500 -> 1.5, 9.00 -> 9: a quantity or rate as a person writes it."""
    return format(number.normalize(), "f")
