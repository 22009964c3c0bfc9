"""GST F5 figures of a company's period, from its sales ledger (IRAS's boxes).

- Box 1: standard-rated supplies, Box 2: zero-rated, Box 3: exempt (each the value excluding GST:
  a line's amount less its GST when the company's prices include GST, the amount otherwise).
- Box 4 = Box 1 + Box 2 + Box 3. Box 6: output tax, the GST the period's lines charged.
- A return (credit note) counts in the period of its own occurred_at, reducing its boxes there.
- Out-of-scope lines are in no box (their value is shown apart).
- Boxes 5 and 7 need purchases, which a sales ledger does not hold: left to the accountant.

A line's category is the one stored on it at posting, so a product re-categorised later never moves
an old sale between boxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domain.errors import NotFound
from domain.reports.figures import money
from domain.reports.periods import SINGAPORE, Period, day_bounds
from domain.tables import Company
from domain.vocabulary import GstCategory

BOX_OF = {GstCategory.STANDARD: "box1", GstCategory.ZERO_RATED: "box2", GstCategory.EXEMPT: "box3"}
NOTE = (
    "Box 5 (taxable purchases) and Box 7 (input tax) need purchases, which tillpost does not hold: "
    "left to the accountant."
)

_BY_CATEGORY = text("""
    SELECT l.gst_category,
           coalesce(sum(l.amount - CASE WHEN c.prices_include_gst THEN l.tax ELSE 0 END), 0) AS value,
           coalesce(sum(l.tax), 0) AS tax
    FROM sales s
    JOIN companies c ON c.id = s.company_id
    JOIN sale_lines l ON l.sale_id = s.id
    WHERE s.outlet_id IN (SELECT id FROM outlets WHERE company_id = :company)
      AND s.occurred_at >= :start AND s.occurred_at < :end
    GROUP BY l.gst_category
""")

# The sales behind each box: one row per sale and category, in time order.
_DETAIL = text("""
    SELECT l.gst_category, s.transaction_number, s.request_id, s.kind, s.occurred_at, o.code AS outlet,
           sum(l.amount - CASE WHEN c.prices_include_gst THEN l.tax ELSE 0 END) AS value,
           sum(l.tax) AS tax
    FROM sales s
    JOIN companies c ON c.id = s.company_id
    JOIN outlets o ON o.id = s.outlet_id
    JOIN sale_lines l ON l.sale_id = s.id
    WHERE s.outlet_id IN (SELECT id FROM outlets WHERE company_id = :company)
      AND s.occurred_at >= :start AND s.occurred_at < :end
    GROUP BY l.gst_category, s.id, o.code
    ORDER BY s.occurred_at, s.id, l.gst_category
""")

DETAIL_COLUMNS = (
    "box",
    "gst_category",
    "transaction_number",
    "request_id",
    "kind",
    "occurred_at",
    "outlet",
    "value",
    "tax",
)


def company_ref(session: Session, code: str) -> int:
    found = session.scalar(select(Company.id).where(Company.code == code))
    if found is None:
        raise NotFound("company", code)
    return found


def f5(session: Session, company: str, period: Period) -> dict[str, Any]:
    """The `report gst --json` document."""
    company_id = company_ref(session, company)
    start, end = day_bounds(period.first, period.last)
    rows = {
        r.gst_category: r for r in session.execute(_BY_CATEGORY, {"company": company_id, "start": start, "end": end})
    }
    value = {c: rows[c].value if c in rows else Decimal(0) for c in GstCategory}
    boxes = {box: value[category] for category, box in BOX_OF.items()}
    return {
        "company": company,
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "box1": money(boxes["box1"]),
        "box2": money(boxes["box2"]),
        "box3": money(boxes["box3"]),
        "box4": money(sum(boxes.values(), Decimal(0))),
        "box6": money(sum((r.tax for r in rows.values()), Decimal(0))),
        "out_of_scope": money(value[GstCategory.OUT_OF_SCOPE]),
        "note": NOTE,
    }


def f5_detail(session: Session, company: str, period: Period) -> Iterator[dict[str, Any]]:
    """The sales behind the boxes, one row per sale and category (DETAIL_COLUMNS), streamed."""
    company_id = company_ref(session, company)
    start, end = day_bounds(period.first, period.last)
    rows = session.execute(
        _DETAIL.execution_options(yield_per=2000), {"company": company_id, "start": start, "end": end}
    )
    for row in rows:
        yield {
            "box": BOX_OF.get(GstCategory(row.gst_category), "none (out of scope)"),
            "gst_category": row.gst_category,
            "transaction_number": row.transaction_number,
            "request_id": row.request_id,
            "kind": row.kind,
            "occurred_at": row.occurred_at.astimezone(SINGAPORE).isoformat(),
            "outlet": row.outlet,
            "value": money(row.value),
            "tax": money(row.tax),
        }
