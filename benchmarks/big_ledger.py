"""How long `tillpost check` takes on a big ledger: N sale requests (default 1,000,000) generated in SQL
on the demo shop's master data (no posting, no per-row Python), then `tillpost check --json` and
`tillpost batch show ID` of the largest batch timed as a user runs them (subprocesses). Figures are
printed, never asserted. Runs on a fresh database of the configured server (TILLPOST_DATABASE_URL, or
the embedded one), dropped at the end unless --keep.

    .venv/bin/python benchmarks/big_ledger.py [--requests 1000000] [--keep]

Request n (1..N) is, in five batches of 40, 25, 20, 10 and 5 % of the requests:
- REJECTED (UNKNOWN_SKU) when n % 100 = 7, with no sale;
- a DUPLICATE of request n - 1 when n % 1000 = 13, pointing at that request's sale;
- a return of the first line of request n - 25's sale when n % 50 = 0 (POSTED, cash-rounded like
  its sale when that was paid in cash, taking back its points);
- else a POSTED sale of 1-4 lines of the 120 products at catalogue prices (GST included), paid in
  cash (rounded to 5 cents, change from the next 10 dollars), by card, NETS or PayNow, some split
  with a voucher; one in three by a member, who earns floor(total / 10) points.
Every sale has its lines, tenders, stock movements (on hand moved by them), loyalty entry (members)
and three follow-ups, run. The batches are DONE with their tallies and reconciliation as posting
would have left them, so `tillpost check` must find nothing: the run says so, or lists what it found.
"""

# ruff: noqa: E501  (the generating SQL reads best one row a line)
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from benchmarks import databases  # noqa: E402
from benchmarks.databases import database  # noqa: E402
from domain.batches import tallies  # noqa: E402
from domain.batches.report import store_reconciliation  # noqa: E402
from frontends.demo_data import catalogue  # noqa: E402
from runtime import embedded, settings  # noqa: E402

BATCHES = (0.40, 0.25, 0.20, 0.10, 0.05)

# Each statement is one step; :n is the number of requests. Temporary tables live on the one
# connection that runs every step, in one transaction.
STEPS = {
    "shop": """
CREATE TEMP TABLE p ON COMMIT DROP AS
SELECT row_number() OVER (ORDER BY id) AS k, id, sku, name, price, gst_rate, track_inventory,
       coalesce(gst_category, CASE WHEN gst_rate <> 0 THEN 'standard' ELSE 'zero_rated' END) AS category
FROM products;
CREATE TEMP TABLE o ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, code FROM outlets;
CREATE TEMP TABLE u ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id FROM users;
CREATE TEMP TABLE c ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id, code FROM customers;
CREATE TEMP TABLE b ON COMMIT DROP AS
SELECT k AS batch_id, coalesce(lag(last) OVER (ORDER BY k), 0) + 1 AS first, last
FROM unnest(CAST(:cuts AS bigint[])) WITH ORDINALITY AS cut(last, k);
INSERT INTO batches (id, source, digest, state, requests, created_at, posted_at, done_at, enqueued_at)
SELECT batch_id, 'big-ledger-' || batch_id || '.jsonl', md5('big-ledger-' || batch_id), 'DONE', last - first + 1,
       now(), now(), now(), now()
FROM b""",
    "requests": """
CREATE TEMP TABLE r ON COMMIT DROP AS
SELECT n, b.batch_id, n - b.first + 1 AS line_no,
       CASE WHEN n % 100 = 7 THEN 'rejected' WHEN n % 1000 = 13 THEN 'duplicate'
            WHEN n % 50 = 0 THEN 'return' ELSE 'sale' END AS what,
       (SELECT count(*) FROM o) AS outlets
FROM generate_series(1, CAST(:n AS bigint)) n JOIN b ON n BETWEEN b.first AND b.last;
ALTER TABLE r ADD PRIMARY KEY (n)""",
    # A sale's lines; a return's one line is the negative of its original's first line.
    "lines": """
CREATE TEMP TABLE l ON COMMIT DROP AS
SELECT r.n AS sale_id, j AS line_no, p.id AS product_id, p.sku, p.name, q AS quantity, p.price,
       round(q * p.price, 2) AS amount, p.gst_rate, round(round(q * p.price, 2) * p.gst_rate / (100 + p.gst_rate), 2) AS tax,
       p.category, p.track_inventory
FROM r CROSS JOIN LATERAL generate_series(1, 1 + (r.n * 13 + r.n / 7) % 4) j
CROSS JOIN LATERAL (SELECT 1 + (r.n + j) % 3 AS q, 1 + (r.n * 31 + j * 17 + r.n / 11) % (SELECT count(*) FROM p) AS k) pick
JOIN p ON p.k = pick.k
WHERE r.what = 'sale';
INSERT INTO l
SELECT r.n, 1, l.product_id, l.sku, l.name, -l.quantity, l.price, -l.amount, l.gst_rate, -l.tax, l.category, l.track_inventory
FROM r JOIN l ON l.sale_id = r.n - 25 AND l.line_no = 1 WHERE r.what = 'return';
CREATE INDEX ON l (sale_id)""",
    # Headers: cash (n % 5 in 0, 1) rounds to 5 cents; a return pays back as its original was paid.
    "headers": """
CREATE TEMP TABLE h ON COMMIT DROP AS
SELECT r.n AS id, r.batch_id, r.what, t.subtotal, t.tax, paid.cash,
       CASE WHEN paid.cash THEN round(round(t.subtotal * 20) / 20, 2) ELSE t.subtotal END AS total,
       CASE WHEN r.what = 'return' THEN r.n - 25 END AS original_sale_id,
       CASE WHEN r.what = 'return' THEN ((r.n - 25) % 3 = 0) ELSE (r.n % 3 = 0) END AS member,
       CASE WHEN r.what = 'return' THEN (r.n - 25) / 3 ELSE r.n / 3 END AS member_k,
       (r.n * 7 + r.n / 5) % r.outlets AS outlet_k,
       CASE (r.n % 5) WHEN 2 THEN 'CARD' WHEN 3 THEN 'NETS' ELSE 'PAYNOW' END AS method
FROM r JOIN (SELECT sale_id, sum(amount) AS subtotal, sum(tax) AS tax FROM l GROUP BY sale_id) t ON t.sale_id = r.n
CROSS JOIN LATERAL (SELECT CASE WHEN r.what = 'return' THEN (r.n - 25) % 5 IN (0, 1) ELSE r.n % 5 IN (0, 1) END AS cash) paid;
UPDATE h SET outlet_k = sold.outlet_k, method = sold.method FROM h AS sold WHERE h.what = 'return' AND sold.id = h.original_sale_id;
ALTER TABLE h ADD PRIMARY KEY (id)""",
    "sales": """
INSERT INTO sales (id, company_id, request_id, fingerprint, transaction_number, kind, original_sale_id, outlet_id,
                   channel, occurred_at, cashier_id, customer_id, batch_id, subtotal, tax, rounding_adjustment,
                   total, tendered, change_due)
SELECT h.id, o_.company_id, 'R' || lpad(h.id::text, 9, '0'), md5('R' || h.id), o.code || '-' || lpad(h.id::text, 8, '0'),
       CASE WHEN h.what = 'return' THEN 'return' ELSE 'sale' END, h.original_sale_id, o.id,
       CASE WHEN o.code = 'WEB' THEN 'web' ELSE 'pos' END,
       TIMESTAMPTZ '2025-03-01 10:00+08' + (h.batch_id - 1) * INTERVAL '1 day' + (h.id % 36000) * INTERVAL '1 second',
       CASE WHEN o.code <> 'WEB' THEN (SELECT u.id FROM u WHERE u.k = h.id % (SELECT count(*) FROM u)) END,
       CASE WHEN h.member THEN (SELECT c.id FROM c WHERE c.k = h.member_k % (SELECT count(*) FROM c)) END,
       h.batch_id, h.subtotal, h.tax, h.total - h.subtotal, h.total,
       CASE WHEN h.cash AND h.total > 0 THEN ceil(h.total / 10) * 10 ELSE h.total END,
       CASE WHEN h.cash AND h.total > 0 THEN ceil(h.total / 10) * 10 - h.total ELSE 0 END
FROM h JOIN o ON o.k = h.outlet_k JOIN outlets o_ ON o_.id = o.id
ORDER BY h.id""",
    "sale_lines": """
INSERT INTO sale_lines (sale_id, line_no, product_id, sku, description, quantity, unit_price, discount, amount,
                        gst_rate, tax, gst_category)
SELECT sale_id, line_no, product_id, sku, name, quantity, price, 0, amount, gst_rate, tax, category
FROM l ORDER BY sale_id, line_no""",
    # Cash is handed over in whole tens; a non-cash sale over 20 dollars is split 20 in vouchers when n % 7 = 0.
    "tenders": """
INSERT INTO tenders (sale_id, method, amount)
SELECT s.id, t.method, t.amount
FROM sales s JOIN h ON h.id = s.id
CROSS JOIN LATERAL (VALUES
    (CASE WHEN h.cash THEN 'CASH' ELSE h.method END,
     CASE WHEN NOT h.cash AND h.what = 'sale' AND s.id % 7 = 0 AND s.total > 20 THEN s.total - 20 ELSE s.tendered END),
    ('VOUCHER', CASE WHEN NOT h.cash AND h.what = 'sale' AND s.id % 7 = 0 AND s.total > 20 THEN 20.00 END)) AS t(method, amount)
WHERE t.amount IS NOT NULL
ORDER BY s.id""",
    "stock": """
INSERT INTO stock_movements (outlet_id, product_id, kind, quantity, sale_id)
SELECT s.outlet_id, l.product_id, CASE WHEN s.kind = 'return' THEN 'RETURN' ELSE 'SALE' END, -l.quantity, s.id
FROM l JOIN sales s ON s.id = l.sale_id WHERE l.track_inventory ORDER BY s.id, l.line_no;
INSERT INTO stock_levels AS level (outlet_id, product_id, on_hand)
SELECT s.outlet_id, l.product_id, -sum(l.quantity)
FROM l JOIN sales s ON s.id = l.sale_id WHERE l.track_inventory GROUP BY s.outlet_id, l.product_id
ORDER BY s.outlet_id, l.product_id
ON CONFLICT (outlet_id, product_id) DO UPDATE SET on_hand = level.on_hand + excluded.on_hand""",
    # A sale earns floor(total / dollars per point); its return takes back the floor of what it refunds.
    "loyalty": """
INSERT INTO loyalty_entries (customer_id, sale_id, points)
SELECT s.customer_id, s.id, sign(s.total) * floor(abs(s.total) / co.dollars_per_point)
FROM sales s JOIN companies co ON co.id = s.company_id WHERE s.customer_id IS NOT NULL ORDER BY s.id;
UPDATE customers c SET points = c.points + e.points
FROM (SELECT customer_id, sum(points) AS points FROM loyalty_entries GROUP BY customer_id) e
WHERE e.customer_id = c.id""",
    "follow_ups": """
INSERT INTO follow_ups (sale_id, kind, created_at, done_at, attempts)
SELECT s.id, k.kind, s.posted_at, s.posted_at, 1
FROM sales s CROSS JOIN (VALUES ('REORDER'), ('LOYALTY'), ('CUSTOMER_RECEIPT')) AS k(kind) ORDER BY s.id, k.kind""",
    "sale_requests": """
INSERT INTO sale_requests (id, request_id, company_id, batch_id, line_no, payload, fingerprint, outcome, reason,
                           message, sale_id, attempts, processed_at)
SELECT r.n, x.request_id, co.id, r.batch_id, r.line_no,
       jsonb_build_object('request_id', x.request_id, 'outlet', coalesce(o.code, 'ORCH'),
                          'occurred_at', coalesce(s.occurred_at, TIMESTAMPTZ '2025-03-01 10:00+08'),
                          'lines', coalesce(ls.lines, '[{"sku": "NO-SUCH-SKU", "quantity": "1"}]'::jsonb),
                          'tenders', coalesce(ts.tenders, '[{"method": "CARD", "amount": "10.00"}]'::jsonb)),
       md5(x.request_id), x.outcome,
       CASE WHEN r.what = 'rejected' THEN 'UNKNOWN_SKU' END,
       CASE r.what WHEN 'rejected' THEN 'unknown sku NO-SUCH-SKU' WHEN 'duplicate' THEN 'already posted' ELSE 'posted' END,
       x.sale_id, 1, now()
FROM r
CROSS JOIN LATERAL (SELECT
    CASE r.what WHEN 'duplicate' THEN r.n - 1 WHEN 'rejected' THEN NULL ELSE r.n END AS sale_id,
    'R' || lpad((CASE WHEN r.what = 'duplicate' THEN r.n - 1 ELSE r.n END)::text, 9, '0') AS request_id,
    CASE r.what WHEN 'rejected' THEN 'REJECTED' WHEN 'duplicate' THEN 'DUPLICATE' ELSE 'POSTED' END AS outcome) x
CROSS JOIN (SELECT id FROM companies ORDER BY id LIMIT 1) co
LEFT JOIN sales s ON s.id = x.sale_id
LEFT JOIN outlets o ON o.id = s.outlet_id
LEFT JOIN (SELECT sale_id, jsonb_agg(jsonb_build_object('sku', sku, 'quantity', abs(quantity)::text) ORDER BY line_no) AS lines
           FROM l GROUP BY sale_id) ls ON ls.sale_id = x.sale_id
LEFT JOIN (SELECT sale_id, jsonb_agg(jsonb_build_object('method', method, 'amount', abs(amount)::text) ORDER BY id) AS tenders
           FROM tenders GROUP BY sale_id) ts ON ts.sale_id = x.sale_id
ORDER BY r.n""",
    # Explicit ids were used: the sequences go past them, so posting on the kept database goes on.
    "sequences": """
SELECT setval(pg_get_serial_sequence('sales', 'id'), (SELECT max(id) FROM sales));
SELECT setval('sale_number_seq', (SELECT max(id) FROM sales));
SELECT setval(pg_get_serial_sequence('sale_requests', 'id'), (SELECT max(id) FROM sale_requests));
SELECT setval(pg_get_serial_sequence('batches', 'id'), (SELECT max(id) FROM batches))""",
}


def cuts(requests: int) -> list[int]:
    """The last request number of each batch."""
    ends, total = [], 0.0
    for share in BATCHES:
        total += share
        ends.append(round(requests * total))
    ends[-1] = requests
    return ends


def generate(db_url: str, requests: int) -> None:
    db = database(db_url)
    params = {"n": requests, "cuts": cuts(requests)}
    with db.engine.begin() as conn:
        for step, sql in STEPS.items():
            started = time.perf_counter()
            for statement in sql.strip().split(";\n"):
                conn.execute(text(statement), params)
            print(f"  {step:<14} {time.perf_counter() - started:7.1f} s", flush=True)
        started = time.perf_counter()
        tallies.backfill(conn)  # what the triggers would have added up to, had the requests been posted
        session = Session(bind=conn)
        for batch_id in range(1, len(BATCHES) + 1):
            store_reconciliation(session, batch_id)
        session.flush()
        print(f"  {'tallies':<14} {time.perf_counter() - started:7.1f} s (and each batch's reconciliation)", flush=True)
    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"  {'vacuum analyze':<14} {time.perf_counter() - started:7.1f} s", flush=True)
    db.dispose()


def tillpost(db_url: str, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "frontends.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return time.perf_counter() - started, done


def sizes(db_url: str) -> str:
    db = database(db_url)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, reltuples::bigint, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class"
                " WHERE relname IN ('sales', 'sale_lines', 'tenders', 'stock_movements', 'loyalty_entries',"
                " 'follow_ups', 'sale_requests') ORDER BY relname"
            )
        ).all()
        total = conn.scalar(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
    db.dispose()
    return ", ".join(f"{name} {n:,} ({size})" for name, n, size in rows) + f"; database {total}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="leave the database and print its URL")
    args = parser.parse_args()
    config = settings.load()
    embedded.ensure_running(config)
    server = settings.load().database_url
    template = databases.template(server, "demo", catalogue())  # the demo shop's master data
    db_url = databases.copy_of(server, template, "ledger")
    databases.drop(server, template)
    try:
        print(f"generating {args.requests:,} requests (cores: {os.cpu_count()}, load {os.getloadavg()[0]:.2f})")
        started = time.perf_counter()
        generate(db_url, args.requests)
        print(f"generated in {time.perf_counter() - started:.1f} s: {sizes(db_url)}")

        print(f"tillpost check --json --timings (load {os.getloadavg()[0]:.2f})", flush=True)
        seconds, done = tillpost(db_url, "check", "--json", "--timings")
        document = json.loads(done.stdout) if done.stdout.strip() else {}
        violations = document.get("violations", [])
        print(f"  {seconds:7.1f} s  exit {done.returncode}, {len(violations)} violation(s)")
        for timing in document.get("timings", []):
            print(f"    {timing['check']:<48} {timing['seconds']:7.2f} s")
        for violation in violations[:10]:
            print(f"    {violation['check']}: {violation['detail']}")
        if done.returncode not in (0, 1):
            print(done.stderr)

        largest = 1  # BATCHES[0] is the largest share
        seconds, done = tillpost(db_url, "batch", "show", str(largest), "--json")
        shown = json.loads(done.stdout) if done.returncode == 0 else {}
        print(
            f"tillpost batch show {largest}: {seconds:.2f} s, exit {done.returncode},"
            f" {shown.get('requests', '?'):,} requests, reconciled {shown.get('reconciled')}"
        )
        if done.returncode != 0:
            print(done.stderr)
    finally:
        if args.keep:
            print(f"kept: TILLPOST_DATABASE_URL={db_url}")
        else:
            databases.drop(server, db_url)


if __name__ == "__main__":
    main()
