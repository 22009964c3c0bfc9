"""How long the closing reports take on a large ledger, generated in SQL (no posting):

- a Z report of one outlet-day holding --day-sales sales (default 50,000; target under 2 s);
- the GST F5 of a quarter holding --quarter-sales sales (default 1,000,000; target under 30 s).

Each sale has two lines (a standard-rated and a zero-rated or exempt one) and one tender; one in 20
is a return. Figures are printed, never asserted. Runs on a fresh database of the configured server
(TILLPOST_DATABASE_URL, or the embedded one), dropped at the end.

    .venv/bin/python benchmarks/reports.py [--day-sales 50000] [--quarter-sales 1000000]
"""

# ruff: noqa: E501  (the generating SQL reads best one row a line)
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from benchmarks.batch_posting import database, drop_database, fresh_database
from runtime import embedded, settings
from services import reports

SHOP = """
INSERT INTO companies (code, name, uen) VALUES ('BIG', 'Big Pte Ltd', '201900001K');
INSERT INTO outlets (code, company_id, name) SELECT 'O' || n, 1, 'Outlet ' || n FROM generate_series(1, 10) n;
INSERT INTO products (company_id, sku, name, price, gst_rate, gst_category)
VALUES (1, 'STD', 'Standard', 10.90, 9, 'standard'), (1, 'ZR', 'Zero-rated', 5.00, 0, 'zero_rated'),
       (1, 'EX', 'Exempt', 3.00, 0, 'exempt');
"""

# Sales n = first..last, at `outlets` outlets, spread over `days` days from 2025-01-01 (Singapore).
SALES = """
INSERT INTO sales (id, company_id, request_id, fingerprint, transaction_number, kind, outlet_id, channel,
                   occurred_at, subtotal, tax, rounding_adjustment, total, tendered, change_due)
SELECT n, 1, 'R' || n, 'f', 'T' || n, CASE WHEN n % 20 = 0 THEN 'return' ELSE 'sale' END,
       1 + n % CAST(:outlets AS int), 'pos',
       TIMESTAMPTZ '2025-01-01 10:00+08' + (n % CAST(:days AS int)) * INTERVAL '1 day' + (n % 36000) * INTERVAL '1 second',
       s * 15.90, s * 0.90, 0, s * 15.90, CASE WHEN s > 0 THEN 20.00 ELSE -15.90 END, CASE WHEN s > 0 THEN 4.10 ELSE 0 END
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) n, LATERAL (SELECT CASE WHEN n % 20 = 0 THEN -1 ELSE 1 END AS s) k;
INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity, unit_price, discount, amount,
                        gst_rate, tax, gst_category)
SELECT n, 1, 1, 'STD', 'Standard', s, 10.90, 0, s * 10.90, 9, s * 0.90, 'standard'
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) n, LATERAL (SELECT CASE WHEN n % 20 = 0 THEN -1 ELSE 1 END AS s) k
UNION ALL
SELECT n, 2, p, sku, sku, s, 5.00, 0, s * 5.00, 0, 0, cat
FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) n,
     LATERAL (SELECT CASE WHEN n % 20 = 0 THEN -1 ELSE 1 END AS s,
                     CASE WHEN n % 3 = 0 THEN 3 ELSE 2 END AS p,
                     CASE WHEN n % 3 = 0 THEN 'EX' ELSE 'ZR' END AS sku,
                     CASE WHEN n % 3 = 0 THEN 'exempt' ELSE 'zero_rated' END AS cat) k;
INSERT INTO tenders (sale_id, method, amount)
SELECT n, 'CASH', CASE WHEN n % 20 = 0 THEN -15.90 ELSE 20.00 END FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) n;
"""


def generate(db_url: str, first: int, last: int, outlets: int, days: int) -> float:
    started = time.perf_counter()
    db = database(db_url)
    with db.engine.begin() as conn:
        for statement in SALES.split(";\n")[:-1]:
            conn.execute(text(statement), {"first": first, "last": last, "outlets": outlets, "days": days})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    db.dispose()
    return time.perf_counter() - started


def timed(label: str, work: object) -> None:
    started = time.perf_counter()
    document = work()  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    shown = {k: document[k] for k in ("sales", "returns", "net_sales", "tax", "total_collected") if k in document}
    shown |= {k: document[k] for k in ("box1", "box2", "box3", "box4", "box6") if k in document}
    print(f"{label:<40} {elapsed:7.2f} s   {shown}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--day-sales", type=int, default=50_000)
    parser.add_argument("--quarter-sales", type=int, default=1_000_000)
    args = parser.parse_args()
    config = settings.load()
    embedded.ensure_running(config)
    server = settings.load().database_url
    db_url = fresh_database(server, "reports")
    try:
        db = database(db_url)
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE companies RESTART IDENTITY CASCADE"))
            for statement in SHOP.strip().split(";\n"):
                conn.execute(text(statement))
        took = generate(db_url, 1, args.day_sales, outlets=1, days=1)
        print(f"generated {args.day_sales:,} sales in one outlet-day in {took:.1f} s (cores: {os.cpu_count()})")
        timed(f"Z report, {args.day_sales:,} sales", lambda: reports.z_report(db, "O1", "2025-01-01"))
        timed("X report, same day (with its Z)", lambda: reports.x_report(db, "O1", "2025-01-01"))
        rest = args.quarter_sales - args.day_sales
        took = generate(db_url, args.day_sales + 1, args.quarter_sales, outlets=10, days=90)
        print(f"generated {rest:,} more sales over 10 outlets and 90 days in {took:.1f} s")
        timed(
            f"GST F5 2025Q1, {args.quarter_sales:,} sales", lambda: reports.gst_return(db, "BIG", "2025Q1", None, None)
        )
        timed("Z report of another outlet-day", lambda: reports.z_report(db, "O2", "2025-02-01"))
        db.dispose()
    finally:
        drop_database(server, db_url)


if __name__ == "__main__":
    main()
