"""Which kind of document a receipt is (GST (General) Regulations, reg. 13), decided without services."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from domain.followups.receipt_data import Membership, ReceiptData, ReceiptLine, receipt_kind
from domain.vocabulary import ReceiptKind

MEMBER = Membership("Ben Lim (C001)", 0, 0, "Ben Lim", "12 Clementi Road")


def line(amount: str, rate: str = "9") -> ReceiptLine:
    value = Decimal(amount)
    tax = (value * Decimal(rate) / (100 + Decimal(rate))).quantize(Decimal("0.01"))
    return ReceiptLine(Decimal(1), value, Decimal(0), value, Decimal(rate), tax, description="Item")


def data(*lines: ReceiptLine, **changes: object) -> ReceiptData:
    """A GST-registered SGD company's walk-in sale of these lines, paid in full."""
    total = sum((item.amount for item in lines), Decimal(0))
    receipt = ReceiptData(
        sale_id=1,
        transaction_number="ORCH-1",
        is_return=False,
        original_transaction_number=None,
        original_occurred_at=None,
        notes=None,
        currency="SGD",
        company="ACME Pte Ltd",
        uen="201912345K",
        gst_registration_number="M90312345X",
        prices_include_gst=True,
        outlet="ACME ORCH",
        address="1 ORCH Road",
        occurred_at=datetime(2025, 3, 1, 2, 15, tzinfo=UTC),
        cashier=None,
        subtotal=total,
        rounding_adjustment=Decimal(0),
        total=total,
        change_due=Decimal(0),
        lines=lines,
        tenders=(),
        member=None,
    )
    return replace(receipt, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("total", "walk_in", "member"),
    [
        ("999.99", ReceiptKind.SIMPLIFIED_TAX_INVOICE, ReceiptKind.SIMPLIFIED_TAX_INVOICE),
        ("1000.00", ReceiptKind.SIMPLIFIED_TAX_INVOICE, ReceiptKind.SIMPLIFIED_TAX_INVOICE),
        ("1000.01", ReceiptKind.RECEIPT, ReceiptKind.TAX_INVOICE),
    ],
)
def test_one_positive_rate_up_to_1000_dollars_including_gst_may_be_simplified(total, walk_in, member):
    assert receipt_kind(data(line(total))) is walk_in
    assert receipt_kind(data(line(total), member=MEMBER)) is member


def test_the_limit_is_on_the_total_a_customer_pays_after_cash_rounding():
    # 1000.02 rounds down to 1000.00 in cash: the amount payable does not exceed S$1,000
    rounded = data(line("1000.02"), total=Decimal("1000.00"), rounding_adjustment=Decimal("-0.02"))
    assert receipt_kind(rounded) is ReceiptKind.SIMPLIFIED_TAX_INVOICE


@pytest.mark.parametrize(
    "lines",
    [
        (line("10.00", "9"), line("10.00", "0")),  # standard and zero-rated
        (line("10.00", "9"), line("10.00", "8")),  # two standard rates (a rate change)
        (line("10.00", "0"),),  # zero-rated (or exempt) only
    ],
)
def test_mixed_rates_or_zero_rated_supplies_are_never_simplified(lines):
    assert receipt_kind(data(*lines)) is ReceiptKind.RECEIPT
    assert receipt_kind(data(*lines, member=MEMBER)) is ReceiptKind.TAX_INVOICE


def test_another_currency_is_never_compared_with_1000_singapore_dollars():
    assert receipt_kind(data(line("5.00"), currency="USD")) is ReceiptKind.RECEIPT
    assert receipt_kind(data(line("5.00"), currency="USD", member=MEMBER)) is ReceiptKind.TAX_INVOICE


def test_a_company_without_gst_registration_issues_receipts_and_a_return_is_a_credit_note():
    assert receipt_kind(data(line("5.00"), gst_registration_number=None, member=MEMBER)) is ReceiptKind.RECEIPT
    back = data(line("-5.00"), is_return=True, total=Decimal("-5.00"))
    assert receipt_kind(back) is ReceiptKind.CREDIT_NOTE
    assert receipt_kind(replace(back, gst_registration_number=None)) is ReceiptKind.CREDIT_NOTE
