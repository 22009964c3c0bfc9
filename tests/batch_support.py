"""Helpers for batch pipeline tests: the real `tillpost` command, batch files, and the ledger read back."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from domain.tables import Batch, Sale, SaleRequestRow, StockLevel, StockMovement
from tests.workers import wait_until

ROOT = Path(__file__).resolve().parents[1]


def tillpost(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "frontends.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def start_tillpost(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A long-running `tillpost` command (worker, up) in its own process group, its output in `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", *args],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def tillpost_json(env: dict[str, str], *args: str, timeout: float = 180) -> Any:
    """Run a `--json` command that must succeed; its one JSON document."""
    done = tillpost(env, *args, timeout=timeout)
    assert done.returncode == 0, f"tillpost {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout)


def write_jsonl(path: Path, lines: Iterable[dict[str, Any] | str]) -> Path:
    """One request a line; a str is written as it is (for lines that are not a request)."""
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def batch_state(sessions: sessionmaker[Session], batch_id: int) -> str | None:
    with sessions() as s:
        return s.scalar(select(Batch.state).where(Batch.id == batch_id))


def wait_for_state(sessions: sessionmaker[Session], batch_id: int, state: str = "DONE", timeout: float = 120) -> None:
    wait_until(
        lambda: batch_state(sessions, batch_id) == state,
        timeout=timeout,
        what=f"batch {batch_id} to be {state} (it is {batch_state(sessions, batch_id)})",
    )


def outcomes_by_line(sessions: sessionmaker[Session], batch_id: int) -> dict[int, tuple[str, str | None]]:
    """{line number in the file: (outcome, reason)} of one batch."""
    with sessions() as s:
        rows = s.execute(
            select(SaleRequestRow.line_no, SaleRequestRow.outcome, SaleRequestRow.reason).where(
                SaleRequestRow.batch_id == batch_id
            )
        )
        return {line_no: (outcome, reason) for line_no, outcome, reason in rows}


def messages_by_line(sessions: sessionmaker[Session], batch_id: int) -> dict[int, str | None]:
    with sessions() as s:
        rows = s.execute(
            select(SaleRequestRow.line_no, SaleRequestRow.message).where(SaleRequestRow.batch_id == batch_id)
        )
        return dict(rows.all())


def posted_count(sessions: sessionmaker[Session], batch_id: int) -> int:
    with sessions() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(SaleRequestRow)
                .where(SaleRequestRow.batch_id == batch_id, SaleRequestRow.outcome == "POSTED")
            )
            or 0
        )


def requests_without_one_outcome(sessions: sessionmaker[Session], batch_id: int) -> list[tuple[str, int, int]]:
    """(request_id, rows, pending) for each request of the batch without exactly one decided row.

    Lines with no request_id (unreadable ones) are each their own request.
    """
    with sessions() as s:
        rows = s.execute(
            text(
                "SELECT request_id, count(*), count(*) FILTER (WHERE outcome = 'PENDING') FROM sale_requests "
                "WHERE batch_id = :b GROUP BY CASE WHEN request_id = '' THEN id::text ELSE request_id END, request_id "
                "HAVING count(*) <> 1 OR count(*) FILTER (WHERE outcome = 'PENDING') > 0 ORDER BY 1"
            ),
            {"b": batch_id},
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def ledger_totals(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """What a second posting of a day must not change: sales, their sum, stock on hand and movements."""
    with sessions() as s:
        return {
            "sales": s.scalar(select(func.count()).select_from(Sale)),
            "sum of totals": s.scalar(select(func.coalesce(func.sum(Sale.total), Decimal(0)))),
            "stock movements": s.scalar(select(func.count()).select_from(StockMovement)),
            "on hand": sorted(s.execute(select(StockLevel.outlet_id, StockLevel.product_id, StockLevel.on_hand)).all()),
        }


def sales_and_posted_requests(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as s:
        sales = s.scalar(select(func.count()).select_from(Sale)) or 0
        posted = (
            s.scalar(select(func.count()).select_from(SaleRequestRow).where(SaleRequestRow.outcome == "POSTED")) or 0
        )
        return sales, posted


def stock_off_its_movements(sessions: sessionmaker[Session]) -> list[tuple[int, int, Decimal, Decimal]]:
    """(outlet_id, product_id, on hand, sum of movements) wherever the two differ."""
    with sessions() as s:
        rows = s.execute(
            text(
                "SELECT coalesce(l.outlet_id, m.outlet_id), coalesce(l.product_id, m.product_id), l.on_hand, m.moved "
                "FROM stock_levels l FULL JOIN (SELECT outlet_id, product_id, sum(quantity) AS moved "
                "FROM stock_movements GROUP BY 1, 2) m USING (outlet_id, product_id) "
                "WHERE l.on_hand IS DISTINCT FROM m.moved ORDER BY 1, 2"
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def tallied_and_counted(sessions: sessionmaker[Session], batch_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batch's running tallies (summed over slots) of outcomes, reasons and sales, and the same
    figures from a fresh GROUP BY of its rows: the two must be equal."""
    with sessions() as s:
        tallied = s.execute(
            text(
                "SELECT tally, key, sum(n), sum(amount) FROM batch_tallies WHERE batch_id = :b "
                "AND tally IN ('outcome', 'reason', 'sales') GROUP BY 1, 2 HAVING sum(n) <> 0 OR sum(amount) <> 0"
            ),
            {"b": batch_id},
        ).all()
        counted = s.execute(
            text(
                "SELECT 'outcome', outcome, count(*), 0 FROM sale_requests WHERE batch_id = :b GROUP BY outcome "
                "UNION ALL SELECT 'reason', reason, count(*), 0 FROM sale_requests "
                "WHERE batch_id = :b AND reason IS NOT NULL GROUP BY reason "
                "UNION ALL SELECT 'sales', '', count(*), sum(total) FROM sales WHERE batch_id = :b HAVING count(*) > 0"
            ),
            {"b": batch_id},
        ).all()
    return (
        {(t, k): (int(n), Decimal(a)) for t, k, n, a in tallied},
        {(t, k): (int(n), Decimal(a)) for t, k, n, a in counted},
    )
