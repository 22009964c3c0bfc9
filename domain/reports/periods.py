"""What a person types for a report, read strictly: a business day, a GST period, an amount of cash.

A business day is the Asia/Singapore calendar day of a sale's occurred_at, whatever offset the till
wrote (a UK day of the Online Retail data spans two Singapore days).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from domain.errors import InvalidArgument

SINGAPORE = ZoneInfo("Asia/Singapore")
EARLIEST = date(2000, 1, 1)  # no till could have written an earlier sale (DOMAIN.md)
LATEST = date(9998, 12, 31)
MOST_CASH = Decimal(10) ** 10  # a drawer holds far less; the column holds less than 10^12
_PERIOD = re.compile(r"(\d{4})Q(\d)")
_AMOUNT = re.compile(r"\d{1,12}(\.\d{1,2})?")


def business_day(text: str, field: str = "date") -> date:
    """YYYY-MM-DD, from 2000-01-01 on."""
    try:
        day = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidArgument(field, f"{text!r} is not a date (YYYY-MM-DD)")
    if not EARLIEST <= day <= LATEST:
        raise InvalidArgument(field, f"{text} is out of range (from {EARLIEST} on)")
    return day


def day_start(day: date) -> datetime:
    """Midnight in Singapore: where the business day begins."""
    return datetime.combine(day, time(0), tzinfo=SINGAPORE)


def day_bounds(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the business days first..last (one day when last is None)."""
    return day_start(first), day_start((last or first) + timedelta(days=1))


def day_of(moment: datetime) -> date:
    return moment.astimezone(SINGAPORE).date()


@dataclass(frozen=True)
class Period:
    first: date
    last: date


def gst_period(period: str | None, start: str | None, end: str | None) -> Period:
    """A quarter (2025Q1) or --from/--to, never both, never neither; from on or before to."""
    if period is not None and (start is not None or end is not None):
        raise InvalidArgument("period", "give --period or --from/--to, not both")
    if period is not None:
        found = _PERIOD.fullmatch(period.strip().upper())
        if found is None or not 1 <= int(found[2]) <= 4:
            raise InvalidArgument("period", f"{period!r} is not a quarter like 2025Q1 (Q1 to Q4)")
        year, quarter = int(found[1]), int(found[2])
        first = date(year, 3 * quarter - 2, 1)
        last = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(days=1)
        if first < EARLIEST:
            raise InvalidArgument("period", f"{period} is out of range (from {EARLIEST.year} on)")
        return Period(first, last)
    if start is None or end is None:
        raise InvalidArgument("period", "give --period YYYYQn, or both --from and --to")
    first, last = business_day(start, "from"), business_day(end, "to")
    if first > last:
        raise InvalidArgument("from", f"{first} is after --to {last}")
    return Period(first, last)


def cash_amount(text: str) -> Decimal:
    """Counted cash: a plain amount with at most 2 decimal places, 0 or more (never NaN, never negative)."""
    raw = text.strip()
    if raw.startswith("-"):
        raise InvalidArgument("amount", f"{text!r} is negative: counted cash is 0 or more")
    try:
        valid = _AMOUNT.fullmatch(raw) is not None and Decimal(raw).is_finite()
    except InvalidOperation:
        valid = False
    if not valid:
        raise InvalidArgument("amount", f"{text!r} is not an amount of money (like 1234.50)")
    amount = Decimal(raw)
    if amount > MOST_CASH:
        raise InvalidArgument("amount", f"{text} is more than {MOST_CASH:,}, the most a count may be")
    return amount
