"""The ledger's words, each defined once: outcomes of a request, reasons for a rejection, kinds of
follow-up, kinds of receipt, states of a batch. StrEnums, so they compare and store as the plain strings of
../shared/CLI.md, and the tables' CHECK constraints are built from them (`one_of`)."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    DUPLICATE = "DUPLICATE"
    CONFLICT = "CONFLICT"
    REJECTED = "REJECTED"


DECIDED = (Outcome.POSTED, Outcome.DUPLICATE, Outcome.CONFLICT, Outcome.REJECTED)


class Reason(StrEnum):
    """Why a request was REJECTED (../shared/DOMAIN.md, plus RETURN_MISMATCH and INTERNAL_ERROR;
    the last three come from web orders)."""

    INVALID = "INVALID"
    UNKNOWN_OUTLET = "UNKNOWN_OUTLET"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    UNKNOWN_CASHIER = "UNKNOWN_CASHIER"
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_ORIGINAL = "UNKNOWN_ORIGINAL"
    RETURN_EXCEEDS_SALE = "RETURN_EXCEEDS_SALE"
    RETURN_MISMATCH = "RETURN_MISMATCH"
    TENDER_SHORT = "TENDER_SHORT"
    TENDER_MISMATCH = "TENDER_MISMATCH"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    TAX_MODE_MISMATCH = "TAX_MODE_MISMATCH"
    UNMAPPED_REFUND = "UNMAPPED_REFUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"


class FollowUpKind(StrEnum):
    """What runs after a sale committed. CUSTOMER_RECEIPT is the receipt handed to the customer (was
    "RECEIPT", easily confused with the stock movement RECEIPT: goods received)."""

    REORDER = "REORDER"
    LOYALTY = "LOYALTY"
    CUSTOMER_RECEIPT = "CUSTOMER_RECEIPT"


class ReceiptKind(StrEnum):
    """What a stored receipt is, as IRAS names it (README "Receipts"): a simplified tax invoice (up to
    S$1,000, one positive GST rate), a full tax invoice (naming the customer), a receipt (no tax
    invoice: the company is not GST-registered, or a walk-in who may ask for a full one), or the
    credit note of a return."""

    SIMPLIFIED_TAX_INVOICE = "SIMPLIFIED_TAX_INVOICE"
    TAX_INVOICE = "TAX_INVOICE"
    RECEIPT = "RECEIPT"
    CREDIT_NOTE = "CREDIT_NOTE"


class BatchState(StrEnum):
    RECEIVED = "RECEIVED"
    POSTING = "POSTING"
    POSTED = "POSTED"  # every request has an outcome
    ATTENTION = "ATTENTION"  # ... and a follow-up failed for good
    DONE = "DONE"  # ... and every follow-up has run


SETTLED = (BatchState.DONE, BatchState.ATTENTION)


class GstCategory(StrEnum):
    """How IRAS's GST F5 counts a supply: standard-rated (Box 1), zero-rated (Box 2), exempt (Box 3),
    or out of scope (in no box). A product's, stored on each sale line at posting like the rate."""

    STANDARD = "standard"
    ZERO_RATED = "zero_rated"
    EXEMPT = "exempt"
    OUT_OF_SCOPE = "out_of_scope"


def default_gst_category(rate: object) -> GstCategory:
    """A product whose category is not given: standard when it charges GST, zero-rated when not."""
    return GstCategory.STANDARD if rate is not None and rate != 0 else GstCategory.ZERO_RATED


def one_of(column: str, words: type[StrEnum]) -> str:
    """A CHECK constraint's text: `column IN ('A', 'B', ...)`, in the enum's order."""
    return f"{column} IN ({', '.join(repr(str(w)) for w in words)})"


# A sale request's kind, channel and tender methods (domain/posting/request.py validates them);
# here so that the ledger's tables name them without importing the request's pydantic model.
class Kind(StrEnum):
    SALE = "sale"
    RETURN = "return"


class Channel(StrEnum):
    POS = "pos"
    WEB = "web"


class TenderMethod(StrEnum):
    CASH = "CASH"
    CARD = "CARD"
    NETS = "NETS"
    PAYNOW = "PAYNOW"
    VOUCHER = "VOUCHER"
    STORE_CREDIT = "STORE_CREDIT"
