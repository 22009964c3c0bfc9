"""The sale request wire format: what is accepted, what is INVALID, and how each error names its field."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from domain.errors import Invalid
from domain.posting.request import Channel, Kind, TenderMethod, parse_request

D = Decimal


def request(**fields):
    body = {
        "request_id": "ORCH-2025-03-01-0001",
        "outlet": "ORCH",
        "occurred_at": "2025-03-01T10:15:00+08:00",
        "cashier": "amy",
        "lines": [{"sku": "TEA", "quantity": "2", "unit_price": "4.50"}],
        "tenders": [{"method": "CASH", "amount": "10.00"}],
    }
    body.update(fields)
    return body


def errors_of(raw):
    with pytest.raises(Invalid) as caught:
        parse_request(raw)
    return {e.field: e.reason for e in caught.value.errors}


def test_a_minimal_request_gets_the_documented_defaults():
    parsed = parse_request(request())
    assert parsed.kind is Kind.SALE
    assert parsed.channel is Channel.POS
    assert parsed.customer is None and parsed.notes is None and parsed.original_request_id is None
    assert parsed.lines[0].quantity == D("2")
    assert parsed.lines[0].unit_price == D("4.50")
    assert parsed.lines[0].discount == D("0")
    assert parsed.tenders[0].method is TenderMethod.CASH
    assert parsed.tenders[0].amount == D("10.00")
    assert parsed.occurred_at == datetime(2025, 3, 1, 2, 15, tzinfo=UTC)
    assert parsed.occurred_at.utcoffset() == timedelta(hours=8)


def test_a_line_without_unit_price_leaves_it_to_the_catalogue():
    parsed = parse_request(request(lines=[{"sku": "TEA", "quantity": "1"}]))
    assert parsed.lines[0].unit_price is None


def test_json_text_numbers_are_read_exactly_as_written():
    # Given JSON text with numbers, not strings (0.1 has no exact binary float)
    text = json.dumps(request()).replace('"2"', "0.1").replace('"4.50"', "12.50").replace('"10.00"', "12.5")
    # When it is parsed
    parsed = parse_request(text)
    # Then each number is the decimal that was written, digit for digit
    assert parsed.lines[0].quantity.as_tuple() == D("0.1").as_tuple()
    assert parsed.lines[0].unit_price.as_tuple() == D("12.50").as_tuple()
    assert parsed.tenders[0].amount.as_tuple() == D("12.5").as_tuple()


def test_an_already_decoded_float_is_read_as_its_shortest_decimal():
    parsed = parse_request(request(tenders=[{"method": "CARD", "amount": 12.5}]))
    assert parsed.tenders[0].amount == D("12.5")
    parsed = parse_request(request(lines=[{"sku": "TEA", "quantity": 0.1, "unit_price": "4.50"}]))
    assert parsed.lines[0].quantity == D("0.1")


def test_float_residue_is_invalid_never_silently_rounded():
    errors = errors_of(request(lines=[{"sku": "TEA", "quantity": "1", "unit_price": 12.499999999999998}]))
    assert list(errors) == ["lines[0].unit_price"]
    assert "decimal places" in errors["lines[0].unit_price"]


def test_float_residue_in_json_text_is_invalid_too():
    text = json.dumps(request()).replace('"10.00"', "12.499999999999998")
    assert list(errors_of(text)) == ["tenders[0].amount"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity", "1.0001"),  # 3 dp allowed
        ("unit_price", "4.50001"),  # 4 dp allowed
        ("discount", "0.001"),  # 2 dp allowed
    ],
)
def test_too_many_decimal_places_on_a_line_is_invalid(field, value):
    line = {"sku": "TEA", "quantity": "1", "unit_price": "4.50", field: value}
    errors = errors_of(request(lines=[line]))
    assert list(errors) == [f"lines[0].{field}"]


def test_the_most_decimal_places_each_field_allows_are_accepted():
    line = {"sku": "TEA", "quantity": "1.125", "unit_price": "4.5025", "discount": "0.05"}
    parsed = parse_request(request(lines=[line], tenders=[{"method": "CARD", "amount": "5.01"}]))
    assert parsed.lines[0].quantity == D("1.125")
    assert parsed.lines[0].unit_price == D("4.5025")


@pytest.mark.parametrize(
    ("written", "read"), [("12", "12"), ("+2", "2"), ("0.5", "0.5"), (".5", "0.5"), ("1e2", "100")]
)
def test_plain_decimal_spellings_are_accepted(written, read):
    assert parse_request(request(lines=[{"sku": "TEA", "quantity": written}])).lines[0].quantity == D(read)


def test_an_unknown_field_is_an_error_at_any_depth():
    errors = errors_of(request(total="9.00", lines=[{"sku": "TEA", "qty": "1"}]))
    assert errors["total"] == "unknown field"
    assert errors["lines[0].qty"] == "unknown field"
    assert errors["lines[0].quantity"] == "required"


@pytest.mark.parametrize("field", ["request_id", "outlet", "occurred_at", "lines", "tenders"])
def test_a_missing_required_field_is_named(field):
    body = request()
    del body[field]
    assert errors_of(body) == {field: "required"}


def test_a_tender_without_amount_names_its_path():
    assert errors_of(request(tenders=[{"method": "CASH"}])) == {"tenders[0].amount": "required"}


@pytest.mark.parametrize(
    "value", ["2025-03-01T10:15:00", "2025-03-01", 1740795300, 1740795300.0, "1740795300", "1740795300.5", ""]
)
def test_a_timestamp_without_an_offset_or_as_a_number_is_invalid(value):
    assert list(errors_of(request(occurred_at=value))) == ["occurred_at"]


def test_a_utc_timestamp_is_accepted():
    parsed = parse_request(request(occurred_at="2025-03-01T02:15:00Z"))
    assert parsed.occurred_at == datetime(2025, 3, 1, 2, 15, tzinfo=UTC)


def test_at_most_500_lines():
    line = {"sku": "TEA", "quantity": "1"}
    assert len(parse_request(request(lines=[line] * 500)).lines) == 500
    assert list(errors_of(request(lines=[line] * 501))) == ["lines"]


def test_at_most_10_tenders():
    tender = {"method": "CASH", "amount": "1.00"}
    assert len(parse_request(request(tenders=[tender] * 10)).tenders) == 10
    assert list(errors_of(request(tenders=[tender] * 11))) == ["tenders"]


def test_no_lines_or_no_tenders_is_invalid():
    assert list(errors_of(request(lines=[]))) == ["lines"]
    assert list(errors_of(request(tenders=[]))) == ["tenders"]


@pytest.mark.parametrize("field", ["quantity", "unit_price", "discount"])
def test_true_or_false_is_not_a_number(field):
    line = {"sku": "TEA", "quantity": "1", field: True}
    assert list(errors_of(request(lines=[line]))) == [f"lines[0].{field}"]


def test_true_is_not_a_tender_amount():
    assert list(errors_of(request(tenders=[{"method": "CASH", "amount": True}]))) == ["tenders[0].amount"]


@pytest.mark.parametrize(
    ("path", "line", "tender"),
    [
        ("lines[0].quantity", {"sku": "TEA", "quantity": "0"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": "-1"}, None),
        ("lines[0].unit_price", {"sku": "TEA", "quantity": "1", "unit_price": "-0.01"}, None),
        ("lines[0].discount", {"sku": "TEA", "quantity": "1", "discount": "-1.00"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": "NaN"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": "Infinity"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": " 1"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": "1_000"}, None),  # Decimal() would read 1000
        ("lines[0].quantity", {"sku": "TEA", "quantity": "\u0661\u0662"}, None),  # Arabic-Indic 12
        ("lines[0].quantity", {"sku": "TEA", "quantity": "0x10"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": "1,5"}, None),
        ("lines[0].quantity", {"sku": "TEA", "quantity": ""}, None),
        ("lines[0].sku", {"sku": "", "quantity": "1"}, None),
        ("tenders[0].amount", None, {"method": "CASH", "amount": "0"}),
        ("tenders[0].method", None, {"method": "CHEQUE", "amount": "1.00"}),
        ("tenders[0].method", None, {"method": "cash", "amount": "1.00"}),
    ],
)
def test_out_of_range_values_name_their_path(path, line, tender):
    body = request()
    if line is not None:
        body["lines"] = [line]
    if tender is not None:
        body["tenders"] = [tender]
    assert list(errors_of(body)) == [path]


def test_errors_on_a_later_line_carry_that_lines_index():
    lines = [{"sku": "TEA", "quantity": "1"}, {"sku": "MUG", "quantity": "1"}, {"sku": "BOOK", "quantity": "x"}]
    assert list(errors_of(request(lines=lines))) == ["lines[2].quantity"]


def test_every_bad_field_is_reported_not_just_the_first():
    body = request(channel="till", lines=[{"sku": "TEA", "quantity": "0"}], tenders=[{"method": "CASH"}])
    assert set(errors_of(body)) == {"channel", "lines[0].quantity", "tenders[0].amount"}


def test_a_till_sale_needs_a_cashier():
    body = request()
    del body["cashier"]
    assert errors_of(body) == {"cashier": "required for channel pos"}
    assert errors_of(request(cashier=None)) == {"cashier": "required for channel pos"}


def test_a_web_order_needs_no_cashier():
    body = request(channel="web", outlet="WEB")
    del body["cashier"]
    assert parse_request(body).cashier is None


def test_an_original_request_id_is_only_for_a_return():
    assert list(errors_of(request(original_request_id="ORCH-1"))) == ["original_request_id"]
    assert errors_of(request(kind="return", original_request_id="ORCH-2025-03-01-0001")) == {
        "original_request_id": "a return cannot reverse itself"
    }
    parsed = parse_request(request(kind="return", original_request_id="ORCH-1"))
    assert parsed.kind is Kind.RETURN and parsed.original_request_id == "ORCH-1"


@pytest.mark.parametrize(
    ("field", "value"),
    [("request_id", ""), ("request_id", "x" * 101), ("request_id", 17), ("notes", "n" * 501), ("kind", "refund")],
)
def test_bad_top_level_values_are_named(field, value):
    assert list(errors_of(request(**{field: value}))) == [field]


def test_request_ids_of_one_and_100_characters_are_fine():
    assert parse_request(request(request_id="x")).request_id == "x"
    assert parse_request(request(request_id="x" * 100)).request_id == "x" * 100


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"a string"', b"{"])
def test_text_that_is_not_a_json_object_is_invalid(raw):
    with pytest.raises(Invalid) as caught:
        parse_request(raw)
    assert caught.value.code == "INVALID"
    assert [e.field for e in caught.value.errors] == [""]


def test_the_invalid_error_message_lists_every_field_and_its_reason():
    with pytest.raises(Invalid) as caught:
        parse_request(request(lines=[{"sku": "TEA", "quantity": "1", "colour": "red"}]))
    assert caught.value.message == "lines[0].colour: unknown field"
    assert caught.value.details == {"errors": [{"field": "lines[0].colour", "reason": "unknown field"}]}


def test_the_same_content_written_differently_has_one_fingerprint():
    # Given the same sale written with strings, trailing zeros and JSON numbers
    as_strings = request(tenders=[{"method": "CASH", "amount": "12.50"}])
    as_numbers = request(
        tenders=[{"method": "CASH", "amount": 12.5}], lines=[{"sku": "TEA", "quantity": 2, "unit_price": "4.5000"}]
    )
    with_defaults = request(
        kind="sale",
        channel="pos",
        customer=None,
        notes=None,
        tenders=[{"method": "CASH", "amount": "12.5", "reference": None}],
        lines=[{"sku": "TEA", "quantity": "2.000", "unit_price": "4.5", "discount": "0.00"}],
    )
    # Then one fingerprint identifies them all
    fingerprints = {parse_request(body).fingerprint() for body in (as_strings, as_numbers, with_defaults)}
    assert len(fingerprints) == 1


def test_different_content_has_a_different_fingerprint():
    base = parse_request(request()).fingerprint()
    assert parse_request(request(lines=[{"sku": "TEA", "quantity": "3", "unit_price": "4.50"}])).fingerprint() != base
    assert parse_request(request(tenders=[{"method": "CARD", "amount": "10.00"}])).fingerprint() != base
    assert parse_request(request(notes="gift wrap")).fingerprint() != base


# The upper bound of each value (what its ledger column and everything derived from it hold): test_bounds.py
