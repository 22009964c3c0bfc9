"""Intake bounds: every value a request carries is bounded so that every number derived from it (line
and sale totals, stock on hand, a reorder quantity, loyalty points) fits its ledger column, and a
time no till could have written is refused. Just inside each bound passes; just outside is INVALID."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import Invalid
from domain.followups.reorder import suggested_quantity
from domain.posting.money import loyalty_points
from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.request import parse_request

D = Decimal
MOST_A_LINE_CARRIES = D(1_000_000)  # units
MOST_A_TENDER_CARRIES = D(10) ** 10  # dollars


def request(**fields):
    body = {
        "request_id": "r1",
        "outlet": "ORCH",
        "occurred_at": "2025-03-01T10:15:00+08:00",
        "cashier": "amy",
        "lines": [{"sku": "TEA", "quantity": "2"}],
        "tenders": [{"method": "CASH", "amount": "10.00"}],
    }
    body.update(fields)
    return body


def line(**fields):
    return request(lines=[{"sku": "TEA", "quantity": "1", **fields}])


def errors_of(body):
    with pytest.raises(Invalid) as caught:
        parse_request(body)
    return {e.field: e.reason for e in caught.value.errors}


def at(moment):
    return request(occurred_at=moment.isoformat())


BOUNDS = [
    # (what, just inside, just outside, the field named)
    ("quantity", line(quantity="1000000"), line(quantity="1000000.001"), "lines[0].quantity"),
    ("unit price", line(unit_price="10000000"), line(unit_price="10000000.0001"), "lines[0].unit_price"),
    ("discount", line(discount="10000000000"), line(discount="10000000000.01"), "lines[0].discount"),
    (
        "tender",
        request(tenders=[{"method": "CARD", "amount": "10000000000.00"}]),
        request(tenders=[{"method": "CARD", "amount": "10000000000.01"}]),
        "tenders[0].amount",
    ),
    (
        "lines",
        request(lines=[{"sku": "TEA", "quantity": "1"}] * 500),
        request(lines=[{"sku": "TEA", "quantity": "1"}] * 501),
        "lines",
    ),
    (
        "tenders",
        request(tenders=[{"method": "CASH", "amount": "1"}] * 10),
        request(tenders=[{"method": "CASH", "amount": "1"}] * 11),
        "tenders",
    ),
    (
        "earliest time",
        request(occurred_at="2000-01-01T00:00:00+08:00"),
        request(occurred_at="1999-12-31T23:59:59+08:00"),
        "occurred_at",
    ),
    (
        "latest time",
        at(datetime.now(UTC) + timedelta(hours=23)),
        at(datetime.now(UTC) + timedelta(hours=25)),
        "occurred_at",
    ),
]


@pytest.mark.parametrize(("inside", "outside", "field"), [b[1:] for b in BOUNDS], ids=[b[0] for b in BOUNDS])
def test_just_inside_a_bound_passes_and_just_outside_is_invalid_naming_the_field(inside, outside, field):
    assert parse_request(inside)
    errors = errors_of(outside)
    assert list(errors) == [field]
    assert errors[field]  # and says why


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00Z"])
def test_a_time_before_2000_is_invalid(moment):
    assert errors_of(request(occurred_at=moment)) == {"occurred_at": "before 2000-01-01: no till wrote it"}


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "9999-12-31T23:59:00+08:00", "2999-01-01T00:00:00Z"])
def test_a_time_more_than_a_day_ahead_is_invalid(moment):
    assert errors_of(request(occurred_at=moment)) == {"occurred_at": "more than a day ahead of now: no till wrote it"}


def test_the_quantity_that_overflowed_a_reorder_suggestion_is_invalid_at_intake():
    # Seen: 99,999,999,999 mugs sold from a shelf of 10 -> a reorder quantity of 10^11 + 9, past NUMERIC(14, 3)
    assert list(errors_of(line(quantity="99999999999"))) == ["lines[0].quantity"]


def test_what_one_sale_can_move_keeps_stock_and_its_reorder_quantity_inside_their_column():
    # 500 lines of the most one line may carry, all of one SKU, from a shelf of 0 with a target of 10^10
    moved = 500 * MOST_A_LINE_CARRIES
    assert suggested_quantity(-moved, D(5), D(10) ** 10) < D(10) ** 11  # NUMERIC(14, 3)


def test_the_largest_sale_its_tenders_can_pay_fits_every_money_column_and_its_points_fit():
    # 10 tenders of the most each may carry pay for at most 10^11: the total, subtotal and GST fit
    # NUMERIC(14, 2), and at the finest rate (0.01 a point) the points fit a BIGINT
    book = ProductInfo(3, "BOOK", "Book", D("20.00"), D("0.00"), True)
    body = request(
        lines=[{"sku": "BOOK", "quantity": str(MOST_A_LINE_CARRIES), "unit_price": "99999.9999"}],
        tenders=[{"method": "CARD", "amount": "9999999990.00"}] * 10,
    )
    priced = price_sale(parse_request(body), {"BOOK": book}, prices_include_gst=True)
    assert priced.total == D("99999999900.00") <= 10 * MOST_A_TENDER_CARRIES < D(10) ** 12
    assert loyalty_points(10 * MOST_A_TENDER_CARRIES, D("0.01")) < 2**63


def test_a_return_of_a_known_sale_takes_no_discount():
    body = request(kind="return", original_request_id="r0", lines=[{"sku": "TEA", "quantity": "1", "discount": "1"}])
    assert list(errors_of(body)) == ["lines[0].discount"]
    body["lines"][0]["discount"] = "0"
    assert parse_request(body)
    del body["original_request_id"]  # without its sale, a return is priced as given
    body["lines"][0]["discount"] = "1"
    assert parse_request(body)
