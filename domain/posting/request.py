"""The sale request: the one wire format every front-end produces (../shared/DOMAIN.md).

`parse_request` turns raw JSON text or an already-decoded object into a `SaleRequest`, or raises
`Invalid` naming each bad field (`lines[2].quantity: ...`). Money is Decimal end to end: JSON
numbers are read exactly as written, and too many decimal places is an error, never rounded.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from domain.errors import FieldError, Invalid
from domain.vocabulary import Channel as Channel  # re-exported: the request names them
from domain.vocabulary import Kind as Kind
from domain.vocabulary import TenderMethod as TenderMethod

# Python's Decimal() also takes "1_000" and non-ASCII digits; the wire format takes plain decimals only.
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
# Pydantic also reads "1740795300" as a Unix time; RFC 3339 starts with the date and time.
_DATE_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}", re.ASCII)


def _decimal_input(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a decimal number, not true/false")
    if isinstance(value, float):
        # A float that reached us was decoded by someone else; its shortest repr is what was written.
        return Decimal(repr(value))
    if isinstance(value, str) and value != value.strip():
        raise ValueError("must not have surrounding spaces")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError(f"must be a decimal number such as 12.50, not {value[:40]!r}")
    return value


def _places(limit: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > limit:
            raise ValueError(f"has more than {limit} decimal places ({value})")
        return value

    return AfterValidator(check)


def _rfc3339(value: Any) -> Any:
    if not isinstance(value, (str, datetime)) or (isinstance(value, str) and not _DATE_TIME_TEXT.match(value)):
        raise ValueError("must be an RFC 3339 timestamp string with an offset")
    return value


# Bounds, so that every number derived from a request fits its ledger column (domain/tables/base.py:
# quantities NUMERIC(14, 3) < 10^11, unit prices NUMERIC(14, 4) < 10^10, money NUMERIC(14, 2) < 10^12,
# points BIGINT). A value past one is INVALID at intake, never a database error later:
# - a line carries at most 10^6 units, so one sale (500 lines) moves a SKU's stock by at most 5 x 10^8,
#   and on hand and a reorder quantity (target - on hand) stay far inside 10^11;
# - a tender carries at most 10^10 and a sale has at most 10 of them, so whatever posts (its tenders
#   cover it) totals at most 10^11: its lines, subtotal, GST and change fit NUMERIC(14, 2), and its
#   points (total / dollars_per_point, at least 0.01) fit a BIGINT; a discount is bounded the same;
# - a unit price is at most 10^7 (S$10 million a unit), well inside its column.
MAX_QUANTITY = Decimal(10**6)
MAX_UNIT_PRICE = Decimal(10**7)
MAX_AMOUNT = Decimal(10**10)
MAX_LINES = 500
MAX_TENDERS = 10
EARLIEST_YEAR = 2000  # no till wrote a sale before 2000-01-01 (in the time's own offset)
LATEST_AHEAD = timedelta(days=1)  # nor more than a day ahead of now (a till's clock may run fast)

Quantity = Annotated[
    Decimal, BeforeValidator(_decimal_input), Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False), _places(3)
]
Price = Annotated[
    Decimal, BeforeValidator(_decimal_input), Field(ge=0, le=MAX_UNIT_PRICE, allow_inf_nan=False), _places(4)
]
Discount = Annotated[
    Decimal, BeforeValidator(_decimal_input), Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False), _places(2)
]
Amount = Annotated[
    Decimal, BeforeValidator(_decimal_input), Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False), _places(2)
]


def _plausible(value: datetime) -> datetime:
    if value.year < EARLIEST_YEAR:
        raise ValueError(f"before {EARLIEST_YEAR}-01-01: no till wrote it")
    # The year first: a time near 9999 cannot be compared once moved to UTC.
    if value.year > datetime.now(UTC).year + 1 or value > datetime.now(UTC) + LATEST_AHEAD:
        raise ValueError("more than a day ahead of now: no till wrote it")
    return value


# Control characters: PostgreSQL cannot store NUL in text at all (the intake refuses it before it
# stores a request), and the others would drive the terminal or printer a receipt (a tender's
# reference, a return's notes as its reason) or `sale show` is written to. Master data refuses the
# same ones (domain/masterdata/fields.py). Notes may span lines; an identifier or a reference is one line.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL_OR_BREAK = r"\x00-\x1f\x7f"


def _without(chars: str) -> AfterValidator:
    control = re.compile(f"[{chars}]")

    def check(value: str) -> str:
        found = control.search(value)
        if found is not None:
            char = found.group()
            why = ", NUL: PostgreSQL cannot store it" if char == "\x00" else ""
            raise ValueError(f"holds a control character (U+{ord(char):04X}{why})")
        return value

    return AfterValidator(check)


def _spec_without(chars: str) -> dict[str, Any]:
    """The same rule in the JSON schema (GET /openapi.json), so the spec says what is accepted."""
    return {"pattern": f"^[^{chars}]*$"}


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_plausible)]
Code = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra=_spec_without(_CONTROL_OR_BREAK)),
    _without(_CONTROL_OR_BREAK),
]
Reference = Annotated[
    str, Field(max_length=200, json_schema_extra=_spec_without(_CONTROL_OR_BREAK)), _without(_CONTROL_OR_BREAK)
]
Notes = Annotated[str, Field(max_length=500, json_schema_extra=_spec_without(_CONTROL)), _without(_CONTROL)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]  # ISO 4217

# A return line of this SKU stands for a web refund that matches no line (an order adjustment, an
# amount-only refund): the worker rejects it as UNMAPPED_REFUND, naming the amount (its tenders).
# Reserved: no product may be given this SKU.
UNMAPPED_REFUND_SKU = "UNMAPPED-REFUND"
# A line of this SKU stands for a web order its adapter could not map (a negative fee, a refund of
# nothing): the request is INVALID with the reason the adapter wrote in its notes. Reserved too.
NOT_MAPPED_SKU = "NOT-MAPPED"
# Fields a request leaves out unless it is a web order; left out, they are not in its fingerprint,
# so a request posted before they existed is still a DUPLICATE of itself.
_WEB_FIELDS = ("currency", "prices_include_gst")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Line(_Strict):
    sku: Code
    quantity: Quantity
    unit_price: Price | None = None
    discount: Discount = Decimal("0")


class Tender(_Strict):
    method: TenderMethod
    amount: Amount
    reference: Reference | None = None


class SaleRequest(_Strict):
    request_id: Code
    kind: Kind = Kind.SALE
    original_request_id: Code | None = None
    outlet: Code
    channel: Channel = Channel.POS
    occurred_at: Timestamp
    cashier: Code | None = None
    customer: Code | None = None
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]
    tenders: Annotated[list[Tender], Field(min_length=1, max_length=MAX_TENDERS)]
    notes: Notes | None = None
    currency: Currency | None = None  # when given, must be the company's (else CURRENCY_MISMATCH)
    prices_include_gst: StrictBool | None = None  # the shop's tax mode; when given, must be the company's

    @model_validator(mode="after")
    def _rules_across_fields(self) -> SaleRequest:
        if self.channel is Channel.POS and not self.cashier:
            raise ValueError("cashier: required for channel pos")
        if self.kind is Kind.SALE and self.original_request_id is not None:
            raise ValueError("original_request_id: only allowed for kind return")
        if self.original_request_id == self.request_id:
            raise ValueError("original_request_id: a return cannot reverse itself")
        if self.original_request_id is not None:
            for n, line in enumerate(self.lines):
                if line.discount:
                    raise ValueError(f"lines[{n}].discount: a return of a known sale refunds what was paid")
        return self

    def fingerprint(self) -> str:
        """Same content, same fingerprint: decimals normalised, defaults filled in."""
        # Python mode keeps Decimals (JSON mode would turn 12.50 and 12.5 into different strings).
        absent = {name for name in _WEB_FIELDS if getattr(self, name) is None}
        return fingerprint_of(self.model_dump(exclude=absent))


def fingerprint_of(obj: Any) -> str:
    canonical = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_normal_decimal)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _normal_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def decode(text: str | bytes) -> Any:
    """JSON text to Python, with every number that has a fraction kept as an exact Decimal."""
    return json.loads(text, parse_float=Decimal)


def parse_request(raw: str | bytes | dict[str, Any]) -> SaleRequest:
    """Validate one request (JSON text, or decoded), raising `Invalid` with a field path and reason per problem."""
    if not isinstance(raw, (str, bytes)):
        return request_from(raw)
    try:
        data = decode(raw)
    except ValueError as exc:
        raise Invalid([FieldError("", f"not valid JSON: {exc}")]) from None
    return request_from(data)


def request_from(data: Any) -> SaleRequest:
    """Validate one already-decoded request (a stored payload): a JSON string is never read as JSON text."""
    if not isinstance(data, dict):
        raise Invalid([FieldError("", "a sale request must be a JSON object")])
    lines = data.get("lines")
    if isinstance(lines, list) and any(isinstance(x, dict) and x.get("sku") == NOT_MAPPED_SKU for x in lines):
        raise Invalid([FieldError("lines", str(data.get("notes") or "the web order could not be mapped"))])
    try:
        return SaleRequest.model_validate(data)
    except ValidationError as exc:
        raise Invalid([_field_error(e) for e in exc.errors()]) from None


def _field_error(error: Any) -> FieldError:
    path = ""
    for part in error["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    reason = error["msg"].removeprefix("Value error, ")
    if not path and ": " in reason:  # a rule across fields names its field first
        path, reason = reason.split(": ", 1)
    if error["type"] == "extra_forbidden":
        reason = "unknown field"
    elif error["type"] == "missing":
        reason = "required"
    elif error["type"] == "less_than_equal":
        most = Decimal(re.sub(r"Decimal\('(.*)'\)", r"\1", str(error["ctx"]["le"])))  # Pydantic gives its repr
        reason = f"more than {most:,}, the most it may be (so that the ledger holds what follows from it)"
    return FieldError(path, reason)
