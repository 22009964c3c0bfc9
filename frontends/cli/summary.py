"""A batch's summary for people (`batch show`, `post`, `demo`): state and counts, totals, the
reconciliation, failed follow-ups and when the sweeper last ran. `--json` prints the document itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from frontends.output import console, emit_json, new_table
from frontends.recovery import sweeper_line

if TYPE_CHECKING:  # rich is imported when a summary is printed for people, not for `--json`
    from rich.padding import Padding
    from rich.table import Table


def print_batch(document: dict[str, Any], as_json: bool, sweeper: str | None = None) -> None:
    """The summary; `sweeper` says what to print of the sweeper instead of when it last ran."""
    if as_json:
        emit_json(document)
        return
    out = console()
    counts = ", ".join(f"{k} {v}" for k, v in document["counts"].items())
    out.print(f"batch {document['id']}  {document['state']}  {document['requests']} requests  ({document['source']})")
    out.print(f"  outcomes: {counts}")
    if document["reasons"]:
        out.print("  reasons:  " + ", ".join(f"{k} {v}" for k, v in document["reasons"].items()))
    totals = document["totals"]
    out.print(f"  sales {totals['sales']}  tax {totals['tax']}")
    if totals["by_outlet"] or totals["by_tender"] or totals["by_gst_rate"]:
        out.print(_indented(_totals_table(totals)))
    if document["reconciled"] is None:
        out.print("  reconciled: not yet (once the batch is DONE; `batch show --reconcile` reconciles it now)")
    else:
        out.print(f"  reconciled: {'yes' if document['reconciled'] else 'NO'}")
    for check in document["reconciliation"] or ():
        if not check["ok"]:
            out.print(f"    {check['check']}: expected {check['expected']}, ledger holds {check['actual']}")
    _print_failed_follow_ups(document)
    out.print(f"  {sweeper or sweeper_line(document['sweeper'])}")


def _totals_table(totals: dict[str, Any]) -> Table:
    """One row per outlet, tender and GST rate: sales counted, amount, tax."""
    table = new_table("totals by", "sales", "amount", "tax", right=("sales", "amount", "tax"))
    for outlet, t in totals["by_outlet"].items():
        table.add_row(f"outlet {outlet}", str(t["count"]), str(t["sales"]), str(t["tax"]))
    for method, amount in totals["by_tender"].items():
        table.add_row(f"tender {method}", "", str(amount), "")
    for rate, t in totals["by_gst_rate"].items():
        table.add_row(f"GST {rate}%", "", str(t["amount"]), str(t["tax"]))
    return table


def _indented(table: Table) -> Padding:
    from rich.padding import Padding

    return Padding(table, (0, 0, 0, 4), expand=False)


def _print_failed_follow_ups(document: dict[str, Any]) -> None:
    total, listed = document["failed_follow_ups_total"], document["failed_follow_ups"]
    if not total:
        return
    out = console()
    out.print(f"  failed follow-ups: {total} (fix the cause, then: tillpost followups retry --batch {document['id']})")
    table = new_table("kind", "sale", "request", "attempts", "error", right=("attempts",))
    for f in listed:
        table.add_row(f["kind"], f["sale"], f["request_id"], str(f["attempts"]), f["error"])
    out.print(_indented(table))
    if total > len(listed):
        out.print(f"    ... and {total - len(listed)} more")
