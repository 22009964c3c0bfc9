"""Where one sale's write statement spends the server's time: every sale of a generated day is posted
by `post_chunk` in this process, and before each sale's write statement (domain/posting/sale.py,
WRITE_SALE) runs, the same statement with the same parameters runs under EXPLAIN (ANALYZE) in a
transaction that is rolled back. Prints, per sale: the statement's execution time, each foreign-key
check (PostgreSQL runs them as triggers: their time and calls), and each CTE's time. EXPLAIN's own
timing inflates small nodes, so read shares rather than absolute figures, and a CTE's time includes
the CTEs it is the first to read (`tallied` reads `lines`, `tenders` and `outbox`). Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/write_breakdown.py --sales 1000 --shape large
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, select  # noqa: E402

from benchmarks import databases  # noqa: E402
from benchmarks.shapes import shape  # noqa: E402
from domain.tables import SaleRequestRow  # noqa: E402
from frontends.batchfiles import file_digest, read_batch  # noqa: E402
from runtime import embedded, settings  # noqa: E402
from services import batches  # noqa: E402
from services.posting import post_chunk  # noqa: E402

CHUNK = 200
_TRIGGER = re.compile(r"\s*Trigger for constraint (\S+) on (\S+): time=([\d.]+) calls=(\d+)")
_CTE = re.compile(r"\s*CTE (\w+)$")
_NODE_TIME = re.compile(r"\s*->  .*\(actual time=[\d.]+\.\.([\d.]+) rows")
_EXECUTION = re.compile(r"\s*Execution Time: ([\d.]+) ms")


class Breakdown:
    def __init__(self) -> None:
        self.sales = 0
        self.execution = 0.0
        self.checks: Counter[str] = Counter()
        self.check_calls: Counter[str] = Counter()
        self.ctes: Counter[str] = Counter()

    def explain(self, conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if not statement.startswith("WITH claim AS"):
            return
        dbapi = cursor.connection
        explaining = dbapi.cursor()
        in_transaction = not dbapi.autocommit
        explaining.execute("SAVEPOINT breakdown" if in_transaction else "BEGIN")
        explaining.execute(f"EXPLAIN (ANALYZE) {statement}", parameters)
        plan = [row[0] for row in explaining.fetchall()]
        explaining.execute("ROLLBACK TO SAVEPOINT breakdown" if in_transaction else "ROLLBACK")
        explaining.close()
        self.add(plan)

    def add(self, plan: list[str]) -> None:
        self.sales += 1
        cte = None
        for line in plan:
            if trigger := _TRIGGER.match(line):
                name = f"{trigger.group(2)}: {trigger.group(1)}"
                self.checks[name] += float(trigger.group(3))
                self.check_calls[name] += int(trigger.group(4))
            elif executed := _EXECUTION.match(line):
                self.execution += float(executed.group(1))
            elif named := _CTE.match(line):
                cte = named.group(1)
            elif cte is not None and (node := _NODE_TIME.match(line)):
                self.ctes[cte] += float(node.group(1))  # the CTE's top node
                cte = None

    def print(self) -> None:
        n = self.sales
        checks = sum(self.checks.values())
        print(f"explained  : {n} write statements; execution {self.execution / n:.3f} ms a sale (under EXPLAIN)")
        print(
            f"FK checks  : {checks / n:.3f} ms a sale ({checks / self.execution:.0%} of execution), "
            f"{sum(self.check_calls.values()) / n:.1f} a sale"
        )
        for name, ms in self.checks.most_common():
            print(f"   {ms / n:7.4f} ms  {self.check_calls[name] / n:5.2f} calls  {name}")
        print("CTEs (each includes the CTEs it reads first):")
        for name, ms in self.ctes.most_common():
            print(f"   {ms / n:7.4f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=1000)
    parser.add_argument("--shape", choices=("demo", "large"), default="large")
    args = parser.parse_args()

    embedded.ensure_running(settings.load())
    config = settings.load()
    server = config.database_url
    day = shape(args.shape)
    folder = config.home / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"breakdown-{args.shape}-{args.sales}.jsonl"
    path.write_text("".join(line + "\n" for line in day.day(args.sales, seed=11)))
    template = databases.template(server, args.shape, day.master_data)
    url = databases.copy_of(server, template, "breakdown")
    db = databases.database(url)
    breakdown = Breakdown()
    event.listen(db.engine, "before_cursor_execute", breakdown.explain)
    try:
        batch_id = batches.stage_batch(db, str(path), file_digest(path), partial(read_batch, path)).batch_id
        query = select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id).order_by(SaleRequestRow.id)
        ids = db.read(lambda session: list(session.scalars(query)))
        for start in range(0, len(ids), CHUNK):
            post_chunk(db, ids[start : start + CHUNK])
    finally:
        db.dispose()
        databases.drop(server, url)
        databases.drop(server, template)
    print(f"shape {args.shape}, {args.sales:,} sales posted in process (server: {server.split('@')[-1]})")
    breakdown.print()


if __name__ == "__main__":
    main()
