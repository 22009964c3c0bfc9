"""Refunds of a known sale, worked out from what it took (domain/refunds.py): pure, no database."""

from decimal import Decimal

import pytest

from domain.errors import ReturnExceedsSale, ReturnMismatch
from domain.posting.refunds import SoldSku, refunds_for
from domain.posting.request import Line

D = Decimal


def back(sold, *quantities, sku="TEA"):
    """Return the quantities one line at a time; the (amount, GST) each refunds."""
    left = {sku: sold}
    refunds = []
    for quantity in quantities:
        (refund,) = refunds_for([Line(sku=sku, quantity=D(quantity))], left)
        refunds.append((refund.amount, refund.tax))
        left[sku] = left[sku].give_back(D(quantity))[1]
    return refunds


def test_a_line_returned_unit_by_unit_refunds_exactly_what_it_took():
    assert back(SoldSku(D(3), D("10.01"), D("0.83"), D(9)), "1", "1", "1") == [
        (D("3.34"), D("0.28")),
        (D("3.33"), D("0.27")),
        (D("3.34"), D("0.28")),
    ]


def test_rounding_up_unit_by_unit_never_refunds_more_than_is_left():
    # 10 units for 0.05, half a cent each: the running refund is rounded once, so a cent every other unit
    refunds = back(SoldSku(D(10), D("0.05"), D(0), D(0)), *["1"] * 10)
    assert [amount for amount, _ in refunds] == [D("0.01"), D("0.00")] * 5


def test_many_small_returns_each_stay_within_a_cent_of_their_share():
    # The adversarial review's case: 300 units for 1,326.00 returned 0.25, 0.5, 1 or 2 at a time
    sold = SoldSku(D(300), D("1326.00"), D("109.49"), D(9))
    quantities = ["0.25", "0.5", "1", "2"] * 80
    refunds = back(sold, *quantities)
    share = sold.paid / sold.quantity
    assert all(abs(amount - share * D(q)) < D("0.01") for (amount, _), q in zip(refunds, quantities, strict=True))
    assert sum(a for a, _ in refunds) == D("1326.00") and sum(t for _, t in refunds) == D("109.49")


def test_weighed_goods_returned_in_parts_refund_what_was_paid():
    # 1.5 kg for 7.99
    assert sum(a for a, _ in back(SoldSku(D("1.5"), D("7.99"), D("0.66"), D(9)), "0.333", "0.5", "0.667")) == D("7.99")


def test_more_than_is_left_exceeds_the_sale_and_names_what_is_returnable():
    sold = SoldSku(D(3), D("13.50"), D("1.11"), D(9), returned=D(2), refunded=D("9.00"), refunded_tax=D("0.74"))
    with pytest.raises(ReturnExceedsSale) as caught:
        refunds_for([Line(sku="TEA", quantity=D(1)), Line(sku="TEA", quantity=D(1))], {"TEA": sold})
    assert caught.value.details == {"skus": {"TEA": "1"}}


@pytest.mark.parametrize(
    ("unit_price", "error"),
    [("3.3367", None), ("3.34", None), ("3.3366", ReturnMismatch), ("3.3368", ReturnExceedsSale)],
)
def test_a_unit_price_is_accepted_only_as_what_was_paid_for_one_unit(unit_price, error):
    sold = {"TEA": SoldSku(D(3), D("10.01"), D("0.83"), D(9))}
    line = Line(sku="TEA", quantity=D(1), unit_price=D(unit_price))
    if error is None:
        assert refunds_for([line], sold)[0].unit_price == D("3.3367")
    else:
        with pytest.raises(error, match=r"lines\[0\] \(TEA\): unit price"):
            refunds_for([line], sold)
