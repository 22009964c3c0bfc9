"""Errors in the shop's words. A `Rejected` is a business outcome (recorded, never retried);
a `TransientError` is a passing fault (retried, never turned into a rejection)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from domain.vocabulary import Reason

ERROR_CHARS = 500  # enough for the class and the first line of its message


class TillpostError(Exception):
    """Root of every error tillpost raises on purpose."""


class Rejected(TillpostError):
    """A business rule failed: the request is recorded as REJECTED with `code` (its reason) and `message`.

    Each rule raises a subclass naming its own reason; a bare Rejected names no rule, so it counts as
    one no rule foresaw."""

    code: ClassVar[Reason] = Reason.INTERNAL_ERROR

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class Invalid(Rejected):
    """The request does not match the wire format; `errors` names each field and reason."""

    code = Reason.INVALID

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors), errors=[e.as_dict() for e in errors])


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class UnknownOutlet(Rejected):
    """The outlet code is not in the master data."""

    code = Reason.UNKNOWN_OUTLET


class UnknownSku(Rejected):
    """A line names a SKU the outlet's company does not sell."""

    code = Reason.UNKNOWN_SKU


class UnknownCashier(Rejected):
    """The cashier is not a user of the outlet's company."""

    code = Reason.UNKNOWN_CASHIER


class UnknownCustomer(Rejected):
    """The customer code is not a customer of the outlet's company."""

    code = Reason.UNKNOWN_CUSTOMER


class UnknownOriginal(Rejected):
    """A return names an original sale that was never posted for this company."""

    code = Reason.UNKNOWN_ORIGINAL


class ReturnExceedsSale(Rejected):
    """A return gives back more of a SKU than its original sale sold (less earlier returns), or
    names a unit price above what was paid for it."""

    code = Reason.RETURN_EXCEEDS_SALE


class ReturnMismatch(Rejected):
    """A return contradicts its original sale: it names another customer, or a unit price below
    what was paid (a refund of a known sale is always what was paid)."""

    code = Reason.RETURN_MISMATCH


class TenderShort(Rejected):
    """The tenders do not cover the amount due."""

    code = Reason.TENDER_SHORT


class TenderMismatch(Rejected):
    """Non-cash tenders pay more than is due (change comes only out of cash)."""

    code = Reason.TENDER_MISMATCH


@dataclass(frozen=True)
class Shortfall:
    sku: str
    on_hand: Decimal
    wanted: Decimal


class InsufficientStock(Rejected):
    """The channel's oversell policy is REJECT and a line wants more than is on hand."""

    code = Reason.INSUFFICIENT_STOCK

    def __init__(self, shortfalls: list[Shortfall]) -> None:
        self.shortfalls = shortfalls
        text = ", ".join(f"{s.sku} (on hand {s.on_hand}, wanted {s.wanted})" for s in shortfalls)
        super().__init__(
            f"not enough stock: {text}",
            shortfalls=[{"sku": s.sku, "on_hand": str(s.on_hand), "wanted": str(s.wanted)} for s in shortfalls],
        )


class CurrencyMismatch(Rejected):
    """A request names a currency other than its company's (web orders always name one)."""

    code = Reason.CURRENCY_MISMATCH


class TaxModeMismatch(Rejected):
    """A request says its prices include (or exclude) GST, and its company prices the other way."""

    code = Reason.TAX_MODE_MISMATCH


class UnmappedRefund(Rejected):
    """A web refund whose amount matches no line (an order adjustment, an amount-only refund): a
    person handles it; it is never posted as a guess."""

    code = Reason.UNMAPPED_REFUND


class InternalError(Rejected):
    """Posting failed in a way no rule foresaw; the request is kept as received, for replay once mended."""

    code = Reason.INTERNAL_ERROR


REASON_CODES: tuple[Reason, ...] = tuple(Reason)  # what `replay --reason` accepts


class OriginalStillPending(TillpostError):
    """A return arrived before its original sale was posted (both in flight): try it again shortly."""

    def __init__(self, original_request_id: str) -> None:
        super().__init__(f"original sale {original_request_id!r} is received but not posted yet")
        self.original_request_id = original_request_id


class TransientError(TillpostError):
    """A passing fault (deadlock, lost connection) that outlived the in-process retries."""


class ImportFailed(TillpostError):
    """A master-data file had bad rows; nothing was imported. `problems` holds (line, message)."""

    def __init__(self, kind: str, problems: list[tuple[int, str]]) -> None:
        self.kind = kind
        self.problems = problems
        lines = "\n".join(f"  line {n}: {msg}" for n, msg in problems)
        super().__init__(f"{kind}: {len(problems)} bad row(s), nothing imported\n{lines}")


@dataclass
class NotFound(TillpostError):
    """A lookup by key found nothing (a CLI `show` of an unknown id)."""

    what: str
    key: str
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"no {self.what} {self.key!r}"


@dataclass
class NotMigrated(TillpostError):
    """The database's schema is not the one this code needs (`at`: its Alembic revision, None when it
    has none): nothing is read or written until `tillpost db upgrade` (exit status 3)."""

    at: str | None
    needed: str

    def __str__(self) -> str:
        if self.at is None:
            return "the database is not migrated (it has no tillpost schema): run `tillpost db upgrade`"
        if self.at > self.needed:  # revisions are zero-padded numbers
            return f"the database is at migration {self.at}, newer than this tillpost ({self.needed}): upgrade tillpost"
        return f"the database is not migrated (at {self.at}, needs {self.needed}): run `tillpost db upgrade`"


@dataclass
class AmbiguousCode(TillpostError):
    """A code unique only within a company matched in several companies, and none was named."""

    what: str
    key: str
    companies: list[str]

    def __str__(self) -> str:
        return (
            f"{self.what} {self.key!r} exists in {len(self.companies)} companies ({', '.join(self.companies)}): "
            "name one with --company CODE"
        )


def describe(exc: BaseException) -> str:
    """The error as a person reads it: its class and the first line of its message, cut short.
    A database error is described by the driver's error, not by SQLAlchemy's wrapper and its SQL."""
    cause = _driver_error(exc) or exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 3] + "..."


def _driver_error(exc: BaseException) -> BaseException | None:
    """The driver's error that SQLAlchemy's DBAPIError wraps, if `exc` is one. sqlalchemy is looked
    up, not imported: a DBAPIError exists only once it was imported, and importing it here would cost
    every command that only needs an error class (`tillpost batch show`) a tenth of a second."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.DBAPIError):
        return None
    orig: BaseException | None = exc.orig
    return orig


@dataclass
class InvalidArgument(TillpostError):
    """A value given to a report or a cash count cannot be used: `field` names it, `reason` says why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


@dataclass
class ZReportRefused(TillpostError):
    """A Z report cannot be issued while requests of its outlet and day are still PENDING."""

    outlet: str
    day: str
    pending: int

    def __str__(self) -> str:
        return (
            f"Z report of {self.outlet} for {self.day} refused: {self.pending} request(s) of that outlet and day "
            "are still PENDING (let the workers post them, then issue it)"
        )
