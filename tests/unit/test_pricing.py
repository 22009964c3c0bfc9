"""Pricing a sale with hand-built products: totals, GST, discounts, cash rounding, tenders, returns."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from domain.errors import Invalid, TenderMismatch, TenderShort, UnknownSku
from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.request import parse_request

D = Decimal

CATALOGUE = {
    "TEA": ProductInfo(1, "TEA", "Tea", D("4.50"), D("9.00"), True),
    "MUG": ProductInfo(2, "MUG", "Mug", D("12.90"), D("9.00"), True),
    "BOOK": ProductInfo(3, "BOOK", "Book", D("20.00"), D("0.00"), True),
    "GIFTCARD": ProductInfo(4, "GIFTCARD", "Gift card", D("50.00"), D("0.00"), False),
}


def request(lines, tenders, **fields):
    body = {
        "request_id": "r1",
        "outlet": "ORCH",
        "occurred_at": "2025-03-01T10:15:00+08:00",
        "cashier": "amy",
        "lines": [dict(zip(("sku", "quantity", "unit_price", "discount"), line, strict=False)) for line in lines],
        "tenders": [{"method": m, "amount": a} for m, a in tenders],
    }
    body.update(fields)
    return parse_request(body)


def price(lines, tenders, included=True, **fields):
    return price_sale(request(lines, tenders, **fields), CATALOGUE, prices_include_gst=included)


def test_included_gst_total_is_the_sum_of_line_amounts():
    # Given 3 tea at 4.50 (13.50), a mug at 12.90 and a zero-rated book at 20.00, paid by card
    priced = price([("TEA", "3"), ("MUG", "1"), ("BOOK", "1")], [("CARD", "46.40")])
    # Then the shelf prices already hold the GST: 13.50*9/109 = 1.11, 12.90*9/109 = 1.07, book 0
    assert [line.amount for line in priced.lines] == [D("13.50"), D("12.90"), D("20.00")]
    assert [line.tax for line in priced.lines] == [D("1.11"), D("1.07"), D("0.00")]
    assert [line.gst_rate for line in priced.lines] == [D("9.00"), D("9.00"), D("0.00")]
    assert [line.line_no for line in priced.lines] == [1, 2, 3]
    assert priced.subtotal == D("46.40")
    assert priced.tax == D("2.18")
    assert priced.total == D("46.40")
    assert priced.rounding_adjustment == D("0")
    assert priced.tendered == D("46.40")
    assert priced.change_due == D("0")


def test_excluded_gst_is_added_to_the_subtotal():
    # Given the same basket at a company whose prices exclude GST:
    # 13.50*0.09 = 1.215 -> 1.22, 12.90*0.09 = 1.161 -> 1.16, book 0
    priced = price([("TEA", "3"), ("MUG", "1"), ("BOOK", "1")], [("CARD", "48.78")], included=False)
    assert [line.tax for line in priced.lines] == [D("1.22"), D("1.16"), D("0.00")]
    assert priced.subtotal == D("46.40")
    assert priced.tax == D("2.38")
    assert priced.total == D("48.78")
    assert priced.rounding_adjustment == D("0")


def test_excluded_gst_paid_in_cash_rounds_the_taxed_total():
    # 48.78 due in cash -> 48.80 (+0.02); 50.00 tendered -> 1.20 change
    priced = price([("TEA", "3"), ("MUG", "1"), ("BOOK", "1")], [("CASH", "50.00")], included=False)
    assert priced.rounding_adjustment == D("0.02")
    assert priced.total == D("48.80")
    assert priced.change_due == D("1.20")


def test_a_discount_comes_off_the_line_before_tax():
    # 2 mugs at 12.90 = 25.80 less 5.80 = 20.00; GST included 20*9/109 = 1.6513 -> 1.65
    priced = price([("MUG", "2", "12.90", "5.80")], [("CARD", "20.00")])
    (line,) = priced.lines
    assert line.amount == D("20.00")
    assert line.discount == D("5.80")
    assert line.tax == D("1.65")
    assert priced.total == D("20.00")


def test_a_discount_larger_than_the_line_is_invalid():
    with pytest.raises(Invalid) as caught:
        price([("TEA", "1"), ("TEA", "1", "4.50", "4.51")], [("CARD", "4.50")])
    assert [e.field for e in caught.value.errors] == ["lines[1].discount"]


def test_a_discount_of_the_whole_line_makes_it_free():
    priced = price([("TEA", "1", "4.50", "4.50"), ("MUG", "1")], [("CARD", "12.90")])
    assert priced.lines[0].amount == D("0.00")
    assert priced.lines[0].tax == D("0.00")
    assert priced.total == D("12.90")


def test_a_line_without_a_price_uses_the_catalogue_price():
    priced = price([("MUG", "2")], [("CARD", "25.80")])
    assert priced.lines[0].unit_price == D("12.90")
    assert priced.total == D("25.80")


def test_a_line_with_a_price_overrides_the_catalogue():
    priced = price([("MUG", "2", "10.00")], [("CARD", "20.00")])
    assert priced.lines[0].unit_price == D("10.00")
    assert priced.total == D("20.00")


def test_a_fractional_quantity_is_rounded_to_cents_half_up():
    # 0.375 kg at 4.50 = 1.6875 -> 1.69; tax 1.69*9/109 = 0.1395 -> 0.14
    priced = price([("TEA", "0.375")], [("CARD", "1.69")])
    assert priced.lines[0].amount == D("1.69")
    assert priced.lines[0].tax == D("0.14")


def test_an_unknown_sku_is_rejected_naming_every_unknown_sku():
    with pytest.raises(UnknownSku) as caught:
        price([("TEA", "1"), ("KETTLE", "1"), ("ANVIL", "1")], [("CARD", "4.50")])
    assert caught.value.code == "UNKNOWN_SKU"
    assert caught.value.details == {"skus": ["ANVIL", "KETTLE"]}


def test_all_cash_rounds_down_to_the_nearest_five_cents_and_gives_change():
    # 4.52 + 12.90 = 17.42 -> 17.40 in cash; 20.00 tendered -> 2.60 change
    priced = price([("TEA", "1", "4.52"), ("MUG", "1")], [("CASH", "20.00")])
    assert priced.subtotal == D("17.42")
    assert priced.rounding_adjustment == D("-0.02")
    assert priced.total == D("17.40")
    assert priced.tendered == D("20.00")
    assert priced.change_due == D("2.60")


def test_all_cash_rounds_up_to_the_nearest_five_cents():
    # 4.53 + 12.90 = 17.43 -> 17.45
    priced = price([("TEA", "1", "4.53"), ("MUG", "1")], [("CASH", "17.45")])
    assert priced.rounding_adjustment == D("0.02")
    assert priced.total == D("17.45")
    assert priced.change_due == D("0.00")


def test_exact_cash_after_rounding_covers_the_sale():
    priced = price([("TEA", "1", "4.52"), ("MUG", "1")], [("CASH", "17.40")])
    assert priced.change_due == D("0")


def test_a_card_sale_is_not_rounded():
    priced = price([("TEA", "1", "4.52"), ("MUG", "1")], [("CARD", "17.42")])
    assert priced.rounding_adjustment == D("0")
    assert priced.total == D("17.42")


def test_cash_with_a_card_is_not_rounded_and_change_comes_out_of_the_cash():
    # 17.42 due: 10.00 card + 10.00 cash = 20.00; 2.58 change, no rounding since not every tender is cash
    priced = price([("TEA", "1", "4.52"), ("MUG", "1")], [("CARD", "10.00"), ("CASH", "10.00")])
    assert priced.rounding_adjustment == D("0")
    assert priced.total == D("17.42")
    assert priced.tendered == D("20.00")
    assert priced.change_due == D("2.58")
    assert [(t.method, t.amount) for t in priced.tenders] == [("CARD", D("10.00")), ("CASH", D("10.00"))]


def test_tenders_short_of_the_total_are_rejected():
    with pytest.raises(TenderShort) as caught:
        price([("MUG", "1")], [("CARD", "10.00"), ("NETS", "2.89")])
    assert caught.value.code == "TENDER_SHORT"
    assert caught.value.details == {"tendered": "12.89", "due": "12.90"}


def test_cash_short_of_the_rounded_total_is_rejected():
    # 17.43 rounds up to 17.45 in cash, so 17.43 in cash is two cents short
    with pytest.raises(TenderShort):
        price([("TEA", "1", "4.53"), ("MUG", "1")], [("CASH", "17.43")])


def test_a_card_overpayment_is_a_mismatch_not_change():
    with pytest.raises(TenderMismatch) as caught:
        price([("MUG", "1")], [("CARD", "20.00")])
    assert caught.value.code == "TENDER_MISMATCH"


def test_overpaying_by_more_than_the_cash_offered_is_a_mismatch():
    # 12.90 due: card 12.00 + cash 1.00 covers it with 0.10 change; card 13.00 + cash 1.00 overpays
    # by 1.10, more than the 1.00 of cash change could come out of
    assert price([("MUG", "1")], [("CARD", "12.00"), ("CASH", "1.00")]).change_due == D("0.10")
    with pytest.raises(TenderMismatch):
        price([("MUG", "1")], [("CARD", "13.00"), ("CASH", "1.00")])


def test_a_return_is_priced_like_a_sale_and_signed_negative():
    # Given a return of 2 tea and a book, refunded by card
    priced = price([("TEA", "2"), ("BOOK", "1")], [("CARD", "29.00")], kind="return", original_request_id="r0")
    # Then quantities, amounts, taxes, totals and tenders are negative: 9.00*9/109 = 0.7431 -> 0.74
    assert [line.quantity for line in priced.lines] == [D("-2"), D("-1")]
    assert [line.amount for line in priced.lines] == [D("-9.00"), D("-20.00")]
    assert [line.tax for line in priced.lines] == [D("-0.74"), D("0.00")]
    assert [line.unit_price for line in priced.lines] == [D("4.50"), D("20.00")]
    assert priced.subtotal == D("-29.00")
    assert priced.tax == D("-0.74")
    assert priced.total == D("-29.00")
    assert [t.amount for t in priced.tenders] == [D("-29.00")]
    assert priced.tendered == D("-29.00")
    assert priced.change_due == D("0")


def test_a_cash_refund_is_rounded_like_a_cash_sale():
    # 17.42 refunded in cash -> 17.40
    priced = price([("TEA", "1", "4.52"), ("MUG", "1")], [("CASH", "17.40")], kind="return")
    assert priced.rounding_adjustment == D("0.02")
    assert priced.total == D("-17.40")
    assert priced.tendered == D("-17.40")


def test_a_refund_must_equal_what_is_refunded():
    with pytest.raises(TenderShort):
        price([("MUG", "1")], [("CARD", "12.00")], kind="return")
    with pytest.raises(TenderMismatch):
        price([("MUG", "1")], [("CARD", "13.00")], kind="return")
    with pytest.raises(TenderMismatch):  # no change is given on a refund, even in cash
        price([("MUG", "1")], [("CASH", "13.00")], kind="return")


line_strategy = st.tuples(
    st.sampled_from(sorted(CATALOGUE)),
    st.decimals(min_value=D("0.001"), max_value=D("50"), places=3),
    st.decimals(min_value=D("0"), max_value=D("999.9999"), places=4),
)


def _due_by_hand(lines, included, cash):
    """The amount due, worked out here line by line from DOMAIN.md (not by price_sale)."""
    subtotal = tax = D("0")
    for sku, qty, unit in lines:
        amount = (qty * unit).quantize(D("0.01"), rounding=ROUND_HALF_UP)
        rate = CATALOGUE[sku].gst_rate
        subtotal += amount
        tax += (amount * rate / (100 + rate if included else 100)).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    due = subtotal if included else subtotal + tax
    if cash:
        due = (due / D("0.05")).quantize(D(1), rounding=ROUND_HALF_UP) * D("0.05")
    return due.quantize(D("0.01"))


@settings(deadline=None)
@given(lines=st.lists(line_strategy, min_size=1, max_size=6), included=st.booleans(), cash=st.booleans())
def test_any_basket_paid_exactly_balances_and_its_return_is_its_exact_negative(lines, included, cash):
    # Given any basket, paid with exactly the amount due worked out by hand
    due = _due_by_hand(lines, included, cash)
    assume(due > 0)
    wire = [(sku, str(qty), str(unit)) for sku, qty, unit in lines]
    tenders = [("CASH" if cash else "CARD", str(due))]
    # When it is priced as a sale and as a return
    sold = price(wire, tenders, included=included)
    returned = price(wire, tenders, included=included, kind="return")
    # Then the sale totals what was worked out by hand, with no change
    assert sold.total == due
    assert sold.change_due == 0
    assert sold.tendered - sold.change_due == sold.total
    assert sold.total == (sold.subtotal if included else sold.subtotal + sold.tax) + sold.rounding_adjustment
    # And the return mirrors it line for line and in every total
    assert [(r.amount, r.tax, r.quantity) for r in returned.lines] == [
        (-s.amount, -s.tax, -s.quantity) for s in sold.lines
    ]
    assert (returned.subtotal, returned.tax, returned.rounding_adjustment, returned.total, returned.tendered) == (
        -sold.subtotal,
        -sold.tax,
        -sold.rounding_adjustment,
        -sold.total,
        -sold.tendered,
    )


@settings(deadline=None)
@given(lines=st.lists(line_strategy, min_size=1, max_size=6), extra=st.integers(min_value=0, max_value=10_000))
def test_cash_change_is_what_was_tendered_beyond_the_rounded_total(lines, extra):
    due = _due_by_hand(lines, True, True)
    assume(due > 0)
    tendered = due + D(extra) / 100
    wire = [(sku, str(qty), str(unit)) for sku, qty, unit in lines]
    priced = price(wire, [("CASH", str(tendered))])
    assert priced.change_due == D(extra) / 100
    assert priced.total % D("0.05") == 0


def test_a_sale_whose_total_outgrows_the_ledger_is_invalid():
    # 1,000,000 gift cards at 10,000,000.00 = 10^13: each field is within its bound, the total is not
    with pytest.raises(Invalid) as caught:
        price([("GIFTCARD", "1000000", "10000000")], [("CARD", "10000000000")])
    assert [e.field for e in caught.value.errors] == [""]


def test_cash_tendered_beyond_what_the_ledger_holds_is_invalid():
    with pytest.raises(Invalid):
        price([("TEA", "1")], [("CASH", "999999999999.99"), ("CASH", "999999999999.99")])


def test_the_largest_sale_its_tenders_can_pay_is_priced():
    # 1,000,000 x 99,999.9999 = 99,999,999,900.00, paid by 10 tenders of 9,999,999,990.00
    priced = price([("BOOK", "1000000", "99999.9999")], [("CARD", "9999999990.00")] * 10)
    assert priced.total == D("99999999900.00")
