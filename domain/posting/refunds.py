"""Refunds of a known sale: a return that names its original is priced from what that sale took,
never from the catalogue or the till, so it can never refund more than is left of it (DOMAIN.md).

Each return refunds, per SKU, what brings everything refunded so far to the returned share of what
was paid (and of its GST), rounded to the cent once over that running sum: so every return is within
a cent of its own share however many there are, and the line that brings the SKU's returned quantity
up to the quantity sold takes exactly what is left (paid less already refunded, GST less GST already
refunded). A sale returned in parts therefore refunds, SKU by SKU, exactly what one whole return
would: three returns of one unit of a 3-unit line paid 10.01 refund 3.34 + 3.33 + 3.34. Pure: no
database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from domain.errors import ReturnExceedsSale, ReturnMismatch
from domain.posting.money import ZERO, cents
from domain.posting.request import Line

PRICE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Refund:
    """What one return line gives back (positive amounts; pricing signs them)."""

    unit_price: Decimal
    amount: Decimal
    tax: Decimal
    gst_rate: Decimal


@dataclass(frozen=True)
class SoldSku:
    """One SKU of the original sale: what it sold and took, and what its returns gave back so far."""

    quantity: Decimal
    paid: Decimal
    tax: Decimal
    gst_rate: Decimal
    returned: Decimal = ZERO
    refunded: Decimal = ZERO
    refunded_tax: Decimal = ZERO

    @property
    def returnable(self) -> Decimal:
        return self.quantity - self.returned

    @property
    def unit_price(self) -> Decimal:
        """What one unit was paid (after its share of any discount), to a unit price's 4 places."""
        return (self.paid / self.quantity).quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)

    def give_back(self, quantity: Decimal) -> tuple[Refund, SoldSku]:
        """The refund for `quantity` more units, and this SKU after it."""
        returned = self.returned + quantity
        amount = _share(self.paid, returned / self.quantity, self.refunded)
        tax = _share(self.tax, returned / self.quantity, self.refunded_tax)
        after = replace(self, returned=returned, refunded=self.refunded + amount, refunded_tax=self.refunded_tax + tax)
        return Refund(self.unit_price, amount, tax, self.gst_rate), after


def _share(total: Decimal, fraction: Decimal, given: Decimal) -> Decimal:
    """What is due now so that everything given back comes to `fraction` of `total`, rounded once
    over the running sum (never per return, so rounding never piles up), never below zero nor past
    what is left. All returned (fraction 1): exactly what is left."""
    return min(max(cents(total * fraction) - given, ZERO), max(total - given, ZERO))


def refunds_for(lines: Sequence[Line], sold: Mapping[str, SoldSku]) -> list[Refund]:
    """One refund per return line, in order; raise when the return asks for more than is left of its
    sale, or names a unit price other than what was paid."""
    _check_quantities(lines, sold)
    left = dict(sold)
    refunds = []
    for n, line in enumerate(lines):
        _check_unit_price(n, line, left[line.sku])
        refund, left[line.sku] = left[line.sku].give_back(line.quantity)
        refunds.append(refund)
    return refunds


def _check_quantities(lines: Sequence[Line], sold: Mapping[str, SoldSku]) -> None:
    wanted: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        wanted[line.sku] += line.quantity
    left = {sku: sold[sku].returnable if sku in sold else ZERO for sku in wanted}
    over = {sku: qty for sku, qty in wanted.items() if qty > left[sku]}
    if over:
        text = ", ".join(f"{sku} (returning {qty}, returnable {left[sku]})" for sku, qty in sorted(over.items()))
        raise ReturnExceedsSale(f"return exceeds the original sale: {text}", skus={sku: str(left[sku]) for sku in over})


def _check_unit_price(n: int, line: Line, sold: SoldSku) -> None:
    """A unit price on the return line is accepted only when it is what was paid for one unit (to
    the cent or to 4 places); leaving it out is the usual way."""
    if line.unit_price is None:
        return
    per_unit = sold.paid / sold.quantity
    if line.unit_price in (sold.unit_price, cents(per_unit)):
        return
    paid = _shown(sold.unit_price)
    where = f"lines[{n}] ({line.sku}): unit price {line.unit_price}"
    details = {"line": n, "sku": line.sku, "unit_price": str(line.unit_price), "paid": paid}
    if line.unit_price > per_unit:
        raise ReturnExceedsSale(f"{where} is more than the {paid} paid for one unit", **details)
    raise ReturnMismatch(f"{where} is not the {paid} paid for one unit; leave it out to refund that", **details)


def _shown(price: Decimal) -> str:
    """A unit price as a receipt shows it: 33.85, not 33.8500; 3.3367 as it is."""
    return str(cents(price)) if cents(price) == price else str(price.normalize())
