"""Ledger invariants, checked from the stored rows alone (`tillpost check`). Each violation says,
in a shop manager's words, which outlet, product, customer, sale or request is off and by what.

One module per concern: stock, loyalty, returns, sales (a sale against its own lines and tenders:
the same rules a batch's reconciliation counts), intake, follow-ups (none failed for good), and
batches (their running tallies equal their rows)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from domain.checks import batches, followups, intake, loyalty, returns, sales, stock
from domain.checks.violation import Violation

__all__ = ["Violation", "check_ledger"]


def check_ledger(session: Session) -> list[Violation]:
    """Every violation found, grouped by check; an empty list means the ledger is sound."""
    return [
        *stock.on_hand_is_sum_of_movements(session),
        *loyalty.balance_is_sum_of_entries(session),
        *loyalty.no_negative_balance(session),
        *returns.returns_within_sales(session),
        *returns.refunds_within_totals(session),
        *sales.sales_agree_with_their_lines_and_tenders(session),
        *intake.every_sale_posted_by_one_request(session),
        *stock.one_open_reorder_suggestion(session),
        *followups.none_failed(session),
        *batches.tallies_match_their_rows(session),
    ]
