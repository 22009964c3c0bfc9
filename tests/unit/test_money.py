"""Money rules: cents half up, the GST split, cash rounding to 0.05, loyalty points.

Every expected value below was worked out by hand from ../shared/DOMAIN.md, not read back from the code.
"""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.posting.money import cash_rounding, cents, line_amount, line_tax, loyalty_points

D = Decimal
NINE = D("9.00")

amounts = st.decimals(min_value=D("0.00"), max_value=D("99999.99"), places=2, allow_nan=False, allow_infinity=False)
rates = st.sampled_from([D("0"), D("7"), D("8"), D("9.00"), D("9.5"), D("17.25")])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0.005", "0.01"),  # half up, not half even (which gives 0.00)
        ("0.004999", "0.00"),
        ("1.225", "1.23"),  # half even would give 1.22
        ("2.675", "2.68"),
        ("12.5", "12.50"),
        ("-0.005", "-0.01"),  # a return's half cent rounds away from zero, mirroring the sale
    ],
)
def test_cents_rounds_half_up_to_two_places(raw, expected):
    assert cents(D(raw)) == D(expected)
    assert cents(D(raw)).as_tuple().exponent == -2


def test_a_line_charges_quantity_times_price_less_discount_rounded_once():
    assert line_amount(D("3"), D("4.50"), D("0")) == D("13.50")
    assert line_amount(D("3"), D("4.50"), D("1.00")) == D("12.50")
    # 0.333 x 2.9999 = 0.9989667: rounded once, at the end
    assert line_amount(D("0.333"), D("2.9999"), D("0")) == D("1.00")
    # 1.5 x 0.3333 = 0.49995 -> 0.50 (half up on the exact product)
    assert line_amount(D("1.5"), D("0.3333"), D("0")) == D("0.50")


@pytest.mark.parametrize(
    ("amount", "tax"),
    [
        ("109.00", "9.00"),  # exactly 9/109 of the amount
        ("13.50", "1.11"),  # 1.11467...
        ("12.90", "1.07"),  # 1.06513...
        ("10.90", "0.90"),
        ("0.06", "0.00"),  # 0.00495...
        ("0.07", "0.01"),  # 0.00578...
    ],
)
def test_gst_included_in_the_price_is_nine_109ths(amount, tax):
    assert line_tax(D(amount), NINE, prices_include_gst=True) == D(tax)


@pytest.mark.parametrize(
    ("amount", "tax"),
    [
        ("100.00", "9.00"),
        ("13.50", "1.22"),  # 1.215 half up
        ("0.50", "0.05"),  # 0.045: half up gives 0.05, half even would give 0.04
        ("1.50", "0.14"),  # 0.135
        ("12.90", "1.16"),  # 1.161
    ],
)
def test_gst_excluded_from_the_price_is_nine_percent_on_top(amount, tax):
    assert line_tax(D(amount), NINE, prices_include_gst=False) == D(tax)


@pytest.mark.parametrize("included", [True, False])
def test_a_zero_rated_line_carries_no_tax(included):
    assert line_tax(D("20.00"), D("0"), prices_include_gst=included) == D("0.00")
    assert line_tax(D("20.00"), D("0.00"), prices_include_gst=included) == D("0.00")


@given(amount=amounts, rate=rates)
def test_included_gst_is_what_the_net_price_would_attract_within_half_a_cent(amount, rate):
    # Given a shelf price that includes GST at `rate`
    tax = line_tax(amount, rate, prices_include_gst=True)
    net = amount - tax
    # Then tax and net split the amount exactly, both in whole cents, neither negative
    assert tax + net == amount
    assert tax.as_tuple().exponent == -2 and net.as_tuple().exponent == -2
    assert D(0) <= tax <= amount
    # And the tax is the rate applied to the net, off by at most the half cent rounding (scaled by 1 + rate)
    assert abs(tax - net * rate / 100) <= D("0.005") * (1 + rate / 100)


@given(amount=amounts, rate=rates)
def test_excluded_gst_is_the_rate_on_the_amount_within_half_a_cent(amount, rate):
    tax = line_tax(amount, rate, prices_include_gst=False)
    assert tax.as_tuple().exponent == -2
    assert abs(tax - amount * rate / 100) <= D("0.005")


@pytest.mark.parametrize(
    ("due", "adjustment"),
    [
        ("10.00", "0.00"),
        ("10.01", "-0.01"),
        ("10.02", "-0.02"),
        ("10.03", "0.02"),
        ("10.04", "0.01"),
        ("10.05", "0.00"),
        ("10.06", "-0.01"),
        ("10.07", "-0.02"),
        ("10.08", "0.02"),
        ("10.09", "0.01"),
        ("0.02", "-0.02"),  # a 2-cent sale is free in cash
        ("0.03", "0.02"),
    ],
)
def test_cash_rounding_goes_to_the_nearest_five_cents_for_every_cent_ending(due, adjustment):
    assert cash_rounding(D(due)) == D(adjustment)


@given(due=amounts)
def test_cash_rounding_is_at_most_two_cents_and_lands_on_a_multiple_of_five_cents(due):
    adjustment = cash_rounding(due)
    assert D("-0.02") <= adjustment <= D("0.02")
    assert (due + adjustment) % D("0.05") == 0
    assert adjustment.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("total", "dollars_per_point", "points"),
    [
        ("99.99", "10", 9),
        ("100.00", "10", 10),
        ("9.99", "10", 0),
        ("0.00", "10", 0),
        ("-50.00", "10", 0),  # a return earns nothing here; it reverses its sale's entry instead
        ("10.00", "2.50", 4),
        ("9.99", "2.50", 3),
    ],
)
def test_loyalty_points_are_the_floor_of_total_over_dollars_per_point(total, dollars_per_point, points):
    assert loyalty_points(D(total), D(dollars_per_point)) == points


@given(total=amounts, dollars_per_point=st.sampled_from([D("1"), D("2.50"), D("10"), D("7.77")]))
def test_loyalty_points_never_round_up(total, dollars_per_point):
    points = loyalty_points(total, dollars_per_point)
    assert points * dollars_per_point <= total < (points + 1) * dollars_per_point
