"""The figures of an outlet's business day (an X report; a Z report is these, issued and kept).

Every amount is excluding GST unless it says otherwise, whatever the company's price convention: a
line's stored `amount` includes its GST when the company's prices do (then `tax` is inside it) and
excludes it otherwise (then `tax` is on top). Returns are stored signed negative, so sums net them.

- gross_sales: sales' lines before discounts and refunds, excluding GST: quantity x price, less the
  GST that price holds when prices include GST (rounded per line, half up).
- discounts: what the discounts took off the sales, excluding GST (gross_sales less the lines' net).
- refunds: what returns gave back, excluding GST.
- net_sales = gross_sales - discounts - refunds. tax: GST charged less GST refunded.
- rounding: cash rounding; total_collected = net_sales + tax + rounding = tenders - change_given.
- expected_cash: cash taken (refunds in cash come off) less change given; counted_cash: the latest
  count of the drawer (None when none); over_short = counted_cash - expected_cash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.errors import NotFound
from domain.reports.periods import day_bounds
from domain.tables import CashCount, Company, Outlet, User

CENT = Decimal("0.01")
AMOUNT_KEYS = (
    "gross_sales",
    "discounts",
    "refunds",
    "net_sales",
    "tax",
    "rounding",
    "total_collected",
    "change_given",
    "expected_cash",
)


def money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(CENT))


@dataclass(frozen=True)
class ReportOutlet:
    id: int
    code: str
    company_id: int
    company: str
    prices_include_gst: bool
    name: str = ""  # the outlet's name, as printed on its reports


def report_outlet(session: Session, code: str, company: str | None = None) -> ReportOutlet:
    """The outlet of this code (of this company, when named); NotFound otherwise."""
    query = (
        select(Outlet.id, Outlet.code, Outlet.company_id, Company.code, Company.prices_include_gst, Outlet.name)
        .join(Company, Company.id == Outlet.company_id)
        .where(Outlet.code == code)
    )
    if company is not None:
        query = query.where(Company.code == company)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFound("outlet", code, {"company": company} if company else {})
    return ReportOutlet(*row)


def cashier_id(session: Session, outlet: ReportOutlet, username: str) -> int:
    found = session.scalar(select(User.id).where(User.company_id == outlet.company_id, User.username == username))
    if found is None:
        raise NotFound("cashier", username, {"company": outlet.company})
    return found


# One pass over the day's sales and one over their lines and tenders: aggregates only.
_HEADERS = text("""
    SELECT count(*) FILTER (WHERE kind = 'sale') AS sales,
           count(*) FILTER (WHERE kind = 'return') AS returns,
           coalesce(sum(rounding_adjustment), 0) AS rounding,
           coalesce(sum(total), 0) AS total_collected,
           coalesce(sum(change_due), 0) AS change_given
    FROM sales s
    WHERE s.outlet_id = :outlet AND s.occurred_at >= :start AND s.occurred_at < :end
      AND (CAST(:cashier AS integer) IS NULL OR s.cashier_id = :cashier)
""")

_LINES = text("""
    SELECT l.gst_rate,
           coalesce(sum(l.amount + l.discount - CASE WHEN :included
                         THEN round((l.amount + l.discount) * l.gst_rate / (100 + l.gst_rate), 2) ELSE 0 END)
                    FILTER (WHERE s.kind = 'sale'), 0) AS gross,
           coalesce(sum(l.amount - CASE WHEN :included THEN l.tax ELSE 0 END)
                    FILTER (WHERE s.kind = 'sale'), 0) AS sold,
           coalesce(-sum(l.amount - CASE WHEN :included THEN l.tax ELSE 0 END)
                    FILTER (WHERE s.kind = 'return'), 0) AS refunded,
           coalesce(sum(l.tax), 0) AS tax
    FROM sales s JOIN sale_lines l ON l.sale_id = s.id
    WHERE s.outlet_id = :outlet AND s.occurred_at >= :start AND s.occurred_at < :end
      AND (CAST(:cashier AS integer) IS NULL OR s.cashier_id = :cashier)
    GROUP BY l.gst_rate ORDER BY l.gst_rate
""")

_TENDERS = text("""
    SELECT t.method, sum(t.amount) AS amount
    FROM sales s JOIN tenders t ON t.sale_id = s.id
    WHERE s.outlet_id = :outlet AND s.occurred_at >= :start AND s.occurred_at < :end
      AND (CAST(:cashier AS integer) IS NULL OR s.cashier_id = :cashier)
    GROUP BY t.method ORDER BY t.method
""")


def day_figures(session: Session, outlet: ReportOutlet, day: date, cashier: int | None = None) -> dict[str, Any]:
    """The X figures of the outlet's business day now (of one cashier's sales, when given): the
    document of `report x --json`. A cashier's X has no counted cash: a count is of the outlet's drawer."""
    start, end = day_bounds(day)
    params = {
        "outlet": outlet.id,
        "start": start,
        "end": end,
        "cashier": cashier,
        "included": outlet.prices_include_gst,
    }
    head = session.execute(_HEADERS, params).one()
    rates = session.execute(_LINES, params).all()
    tenders = {row.method: row.amount for row in session.execute(_TENDERS, params)}
    gross = sum((r.gross for r in rates), Decimal(0))
    sold = sum((r.sold for r in rates), Decimal(0))
    refunds = sum((r.refunded for r in rates), Decimal(0))
    expected = tenders.get("CASH", Decimal(0)) - head.change_given
    count = None if cashier is not None else latest_count(session, outlet.id, day)
    counted = None if count is None else count[1]
    return {
        "company": outlet.company,
        "outlet": outlet.code,
        "outlet_name": outlet.name,
        "date": day.isoformat(),
        "sales": head.sales,
        "returns": head.returns,
        "gross_sales": money(gross),
        "discounts": money(gross - sold),
        "refunds": money(refunds),
        "net_sales": money(sold - refunds),
        "tax": money(sum((r.tax for r in rates), Decimal(0))),
        "rounding": money(head.rounding),
        "total_collected": money(head.total_collected),
        "tenders": {method: money(amount) for method, amount in tenders.items()},
        "change_given": money(head.change_given),
        "expected_cash": money(expected),
        "counted_cash": None if counted is None else money(counted),
        "over_short": None if counted is None else money(counted - expected),
        "by_gst_rate": [
            {"rate": str(r.gst_rate), "base": money(r.sold - r.refunded), "tax": money(r.tax)} for r in rates
        ],
    }


def latest_count(session: Session, outlet_id: int, day: date) -> tuple[int, Decimal] | None:
    """(id, amount) of the day's latest cash count, or None."""
    row = session.execute(
        select(CashCount.id, CashCount.amount)
        .where(CashCount.outlet_id == outlet_id, CashCount.business_date == day)
        .order_by(CashCount.id.desc())
        .limit(1)
    ).one_or_none()
    return None if row is None else (row.id, row.amount)


def difference(now: dict[str, Any], issued: dict[str, Any]) -> dict[str, Any]:
    """What changed since the Z was issued (now - issued), figure by figure; only what changed."""
    changed: dict[str, Any] = {}
    for key in ("sales", "returns"):
        if now[key] != issued[key]:
            changed[key] = now[key] - issued[key]
    for key in (*AMOUNT_KEYS, "counted_cash", "over_short"):
        if now[key] != issued[key]:
            changed[key] = _minus(now[key], issued[key])
    tenders = _by_key(now["tenders"], issued["tenders"])
    if tenders:
        changed["tenders"] = tenders
    rates = _rates_changed(now["by_gst_rate"], issued["by_gst_rate"])
    if rates:
        changed["by_gst_rate"] = rates
    return changed


def _minus(now: str | None, then: str | None) -> str | None:
    if now is None or then is None:
        return now if then is None else money(-Decimal(then))
    return money(Decimal(now) - Decimal(then))


def _by_key(now: dict[str, str], then: dict[str, str]) -> dict[str, str]:
    keys = sorted(now.keys() | then.keys())
    diffs = {k: money(Decimal(now.get(k, "0")) - Decimal(then.get(k, "0"))) for k in keys}
    return {k: v for k, v in diffs.items() if Decimal(v) != 0}


def _rates_changed(now: list[dict[str, str]], then: list[dict[str, str]]) -> list[dict[str, str]]:
    base = _by_key({r["rate"]: r["base"] for r in now}, {r["rate"]: r["base"] for r in then})
    tax = _by_key({r["rate"]: r["tax"] for r in now}, {r["rate"]: r["tax"] for r in then})
    return [
        {"rate": rate, "base": base.get(rate, "0.00"), "tax": tax.get(rate, "0.00")}
        for rate in sorted(base | tax, key=Decimal)
    ]
