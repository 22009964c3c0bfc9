"""Ledger invariants, checked from the stored rows alone (`tillpost check`). Each violation says,
in a shop manager's words, which outlet, product, customer, sale or request is off and by what.

One module per concern: stock, loyalty, returns, sales (a sale against its own lines and tenders:
the same rules a batch's reconciliation counts), intake, follow-ups (none failed for good), and
batches (their running tallies equal their rows)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from domain.checks import batches, followups, intake, loyalty, returns, sales, stock
from domain.checks.violation import Violation

__all__ = ["CHECKS", "Violation", "check_ledger"]

Check = Callable[[Session], list[Violation]]

# In the order `tillpost check` runs and lists them; the name is the one its --json timings show.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("stock.on_hand_is_sum_of_movements", stock.on_hand_is_sum_of_movements),
    ("loyalty.balance_is_sum_of_entries", loyalty.balance_is_sum_of_entries),
    ("loyalty.no_negative_balance", loyalty.no_negative_balance),
    ("returns.returns_within_sales", returns.returns_within_sales),
    ("returns.refunds_within_totals", returns.refunds_within_totals),
    ("sales.sales_agree_with_their_lines_and_tenders", sales.sales_agree_with_their_lines_and_tenders),
    ("intake.every_sale_posted_by_one_request", intake.every_sale_posted_by_one_request),
    ("stock.one_open_reorder_suggestion", stock.one_open_reorder_suggestion),
    ("followups.none_failed", followups.none_failed),
    ("batches.tallies_match_their_rows", batches.tallies_match_their_rows),
)


def check_ledger(session: Session, seconds: dict[str, float] | None = None) -> list[Violation]:
    """Every violation found, grouped by check; an empty list means the ledger is sound. `seconds`,
    when given, receives how long each check took (by its name in CHECKS)."""
    # Each check is a few large scans and aggregates, planned costly enough for PostgreSQL's JIT,
    # which then spent longer compiling than running them (5 of the tallies' 10 s over a million
    # requests): off for this transaction only.
    session.execute(text("SET LOCAL jit = off"))
    found: list[Violation] = []
    for name, check in CHECKS:
        started = time.perf_counter()
        found += check(session)
        if seconds is not None:
            seconds[name] = round(time.perf_counter() - started, 3)
    return found
