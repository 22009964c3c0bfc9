"""A batch's running tallies: what `batch show`, `batch list` and the progress bar read, a few rows
whatever the batch's size (table batch_tallies).

| tally | key | n | amount | tax |
| --- | --- | --- | --- | --- |
| outcome | POSTED, DUPLICATE, CONFLICT, REJECTED, PENDING | requests | | |
| reason | a reason code | requests rejected for it | | |
| sales | "" | sales POSTED | their totals | their GST |
| outlet | the outlet's id | sales | totals | GST |
| tender | a tender method | tenders | tendered | |
| change | "" | | change given | |
| gst_rate | a rate ("9.00") | lines | amounts | GST |
| follow_ups | "", "settled" (run or failed), "failed" | follow-ups of the batch's sales | | |

Kept by triggers (migration 0006, `migrations/versions/0006_batch_tallies.py`) in the very
transaction that records an outcome or runs a follow-up, whichever code path does it (staging's
COPY, posting, a rejection recorded on its own, replay, the sweeper, a person in psql): none of
them calls anything, so none can forget to. A trigger adds what changed: minus a row as it was,
plus the row as it is; a sale counts in the totals while its request is POSTED. Posting changes
one request per statement, so that trigger is per row (a small cached plan, fired only when the
outcome, reason, batch or sale changed); inserts (staging's COPY of a whole file) and follow-ups
(a set of sales per statement) are tallied per statement. One exception, the most frequent change
of all: a request becoming POSTED, and the follow-up rows written with its sale, are tallied by the
statement that writes the sale (domain/posting/sale.py, TALLIED; migration 0009), from the rows it
writes, since that statement is the only one that records POSTED or inserts follow-ups. `EXPECTED`
is the same sums from every row: the backfill and `tillpost check`'s invariant, which finds any drift.

Lock order: each backend adds to its own rows (`slot` = pg_backend_pid()), so two transactions
never wait for each other on a tally, whatever else they lock (a sale's transaction holds its tally
rows from its outcome to its commit, and no other transaction ever wants them); rows are written in
(batch, tally, key) order all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select, text

from domain.plain_tables import batch_tallies, outlets

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ZERO = Decimal("0.00")


def _deltas(requests: str, follow_ups: str) -> str:
    """The tallies a set of changes adds: `requests` yields (batch_id, outcome, reason, sale_id,
    sign) and `follow_ups` (batch_id, settled, failed, sign), sign -1 for a row as it was before.
    A tally may come in several rows (the batch's sales and change come per outlet): whoever reads
    them sums by (batch_id, tally, key). POSTED sales' headers are joined once, per (batch, outlet),
    not once per tally: over every row (`check`) each such join reads every request and sale."""
    posted = f"FROM ({requests}) c JOIN sales s ON s.id = c.sale_id WHERE c.outcome = 'POSTED'"
    return f"""
        SELECT batch_id, 'outcome' AS tally, outcome AS key, sum(sign) AS n, 0 AS amount, 0 AS tax
        FROM ({requests}) c GROUP BY batch_id, outcome
        UNION ALL
        SELECT batch_id, 'reason', reason, sum(sign), 0, 0
        FROM ({requests}) c WHERE reason IS NOT NULL GROUP BY batch_id, reason
        UNION ALL
        SELECT o.batch_id, k.tally, k.key, k.n, k.amount, k.tax
        FROM (
            SELECT c.batch_id, s.outlet_id, sum(sign) AS sales, sum(sign * s.total) AS total,
                   sum(sign * s.tax) AS gst, sum(sign * s.change_due) AS change
            {posted} GROUP BY c.batch_id, s.outlet_id
        ) o
        CROSS JOIN LATERAL (VALUES ('sales', '', o.sales, o.total, o.gst),
                                   ('outlet', o.outlet_id::text, o.sales, o.total, o.gst),
                                   ('change', '', 0, o.change, 0)) AS k(tally, key, n, amount, tax)
        UNION ALL
        SELECT c.batch_id, 'tender', t.method, sum(sign), sum(sign * t.amount), 0
        {posted.replace("JOIN sales s ON s.id", "JOIN tenders t ON t.sale_id")} GROUP BY c.batch_id, t.method
        UNION ALL
        SELECT c.batch_id, 'gst_rate', l.gst_rate::text, sum(sign), sum(sign * l.amount), sum(sign * l.tax)
        {posted.replace("JOIN sales s ON s.id", "JOIN sale_lines l ON l.sale_id")}
        GROUP BY c.batch_id, l.gst_rate
        UNION ALL
        SELECT f.batch_id, 'follow_ups', k.key, k.n, 0, 0
        FROM (
            SELECT batch_id, sum(sign) AS written, sum(sign) FILTER (WHERE settled) AS settled,
                   sum(sign) FILTER (WHERE failed) AS failed
            FROM ({follow_ups}) f GROUP BY batch_id
        ) f
        CROSS JOIN LATERAL (VALUES ('', f.written), ('settled', f.settled), ('failed', f.failed)) AS k(key, n)
        WHERE k.n IS NOT NULL
    """


def _follow_ups_of(rows: str) -> str:
    return (
        "SELECT s.batch_id, (f.done_at IS NOT NULL OR f.failed_at IS NOT NULL) AS settled,"
        " f.failed_at IS NOT NULL AS failed, 1 AS sign"
        f" FROM {rows} f JOIN sales s ON s.id = f.sale_id WHERE s.batch_id IS NOT NULL"
    )


def _requests_of(rows: str) -> str:
    return f"SELECT batch_id, outcome, reason, sale_id, 1 AS sign FROM {rows} r WHERE batch_id IS NOT NULL"


# Every tally from every row: what the triggers must have added up to (backfill, `tillpost check`).
EXPECTED = _deltas(_requests_of("sale_requests"), _follow_ups_of("follow_ups"))


@dataclass
class Tallies:
    """A batch's tallies, summed over slots: (tally, key) -> (n, amount, tax)."""

    rows: dict[tuple[str, str], tuple[int, Decimal, Decimal]] = field(default_factory=dict)

    def n(self, tally: str, key: str = "") -> int:
        return self.rows.get((tally, key), (0, ZERO, ZERO))[0]

    def of(self, tally: str) -> dict[str, tuple[int, Decimal, Decimal]]:
        return {key: value for (t, key), value in sorted(self.rows.items()) if t == tally}


def read(session: Session | Connection, batch_id: int) -> Tallies:
    """The batch's tallies: an index range of a few rows a backend (never the batch's requests)."""
    t = batch_tallies.c
    rows = session.execute(
        select(t.tally, t.key, func.sum(t.n), func.sum(t.amount), func.sum(t.tax))
        .where(t.batch_id == batch_id)
        .group_by(t.tally, t.key)
    )
    return Tallies({(t, k): (int(n), Decimal(a), Decimal(x)) for t, k, n, a, x in rows if n or a or x})


def totals(session: Session | Connection, tallies: Tallies) -> dict[str, Any]:
    """`batch show`'s totals: sales and GST, by outlet, tender (cash kept, after change) and GST rate."""
    _, sales, tax = tallies.rows.get(("sales", ""), (0, ZERO, ZERO))
    by_outlet = tallies.of("outlet")
    named = select(outlets.c.id, outlets.c.code).where(outlets.c.id.in_([int(k) for k in by_outlet]))
    codes: dict[int, str] = {row.id: row.code for row in session.execute(named)}
    by_tender = {method: amount for method, (_, amount, _) in tallies.of("tender").items()}
    change = tallies.rows.get(("change", ""), (0, ZERO, ZERO))[1]
    if change and "CASH" in by_tender:
        by_tender["CASH"] -= change
    return {
        "sales": str(sales),
        "tax": str(tax),
        "by_outlet": {
            codes[int(k)]: {"sales": str(a), "tax": str(x), "count": n}
            for k, (n, a, x) in sorted(by_outlet.items(), key=lambda kv: codes[int(kv[0])])
        },
        "by_tender": {method: str(amount) for method, amount in by_tender.items()},
        "by_gst_rate": {
            rate: {"amount": str(a), "tax": str(x)} for rate, (_, a, x) in sorted(by_gst_rate_items(tallies))
        },
    }


def by_gst_rate_items(tallies: Tallies) -> list[tuple[str, tuple[int, Decimal, Decimal]]]:
    return sorted(tallies.of("gst_rate").items(), key=lambda kv: Decimal(kv[0]))


def drift(session: Session) -> list[tuple[int, str, str, tuple[Any, ...], tuple[Any, ...]]]:
    """Every (batch, tally, key) whose stored tally differs from the same sums over every row:
    (batch, tally, key, stored (n, amount, tax), expected (n, amount, tax))."""
    rows = session.execute(
        text(
            f"""
            WITH expected AS (
                SELECT batch_id, tally, key, sum(n) AS n, sum(amount) AS amount, sum(tax) AS tax
                FROM ({EXPECTED}) e GROUP BY batch_id, tally, key
            ), stored AS (
                SELECT batch_id, tally, key, sum(n) AS n, sum(amount) AS amount, sum(tax) AS tax
                FROM batch_tallies GROUP BY batch_id, tally, key
            )
            SELECT batch_id, tally, key,
                   coalesce(s.n, 0), coalesce(s.amount, 0), coalesce(s.tax, 0),
                   coalesce(e.n, 0), coalesce(e.amount, 0), coalesce(e.tax, 0)
            FROM expected e FULL JOIN stored s USING (batch_id, tally, key)
            WHERE (coalesce(s.n, 0), coalesce(s.amount, 0), coalesce(s.tax, 0))
                  <> (coalesce(e.n, 0), coalesce(e.amount, 0), coalesce(e.tax, 0))
            ORDER BY batch_id, tally, key
            """
        )
    )
    return [(b, t, k, (sn, sa, sx), (en, ea, ex)) for b, t, k, sn, sa, sx, en, ea, ex in rows]


def backfill(connection: Connection) -> None:
    """Every batch's tallies from its rows, into slot 0 (migration 0006)."""
    connection.execute(text("DELETE FROM batch_tallies"))
    connection.execute(
        text(
            f"""
            INSERT INTO batch_tallies (batch_id, tally, key, slot, n, amount, tax)
            SELECT batch_id, tally, key, 0, sum(n), sum(amount), sum(tax) FROM ({EXPECTED}) e
            GROUP BY batch_id, tally, key
            HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(tax) <> 0
            """
        )
    )
