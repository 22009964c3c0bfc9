"""X, Z and GST F5 documents as people read them: plain text for a terminal, and a small
self-contained HTML page for printing (no scripts, no external files)."""

from __future__ import annotations

import html
from typing import Any

FIGURE_LABELS = (
    ("sales", "Sales (transactions)"),
    ("returns", "Returns (transactions)"),
    ("gross_sales", "Gross sales (excl. GST, before discounts and refunds)"),
    ("discounts", "Discounts (excl. GST)"),
    ("refunds", "Refunds (excl. GST)"),
    ("net_sales", "Net sales (excl. GST)"),
    ("tax", "GST"),
    ("rounding", "Cash rounding"),
    ("total_collected", "Total collected"),
    ("change_given", "Change given"),
    ("expected_cash", "Expected cash (cash taken - change)"),
    ("counted_cash", "Counted cash"),
    ("over_short", "Over (+) / short (-)"),
)
BOX_LABELS = (
    ("box1", "Box 1  Total value of standard-rated supplies"),
    ("box2", "Box 2  Total value of zero-rated supplies"),
    ("box3", "Box 3  Total value of exempt supplies"),
    ("box4", "Box 4  Total value of (1) + (2) + (3)"),
    ("box6", "Box 6  Output tax due"),
    ("out_of_scope", "(Out-of-scope supplies, in no box)"),
)


def title_of(document: dict[str, Any]) -> str:
    if "box1" in document:
        return f"GST F5 figures: {document['company']}, {document['from']} to {document['to']}"
    kind = f"Z report no. {document['number']}" if "number" in document else "X report"
    who = f", cashier {document['cashier']}" if "cashier" in document else ""
    name = f" ({document['outlet_name']})" if document.get("outlet_name") else ""  # a Z issued before it had none
    where = f"{document['company']} outlet {document['outlet']}{name}"
    return f"{kind}: {where}, business day {document['date']}{who}"


def sections(document: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(label, value)]) in print order."""
    if "box1" in document:
        return [("Boxes", [(label, document[key]) for key, label in BOX_LABELS]), ("Note", [("", document["note"])])]
    shown = [("Figures", [(label, _value(document[key])) for key, label in FIGURE_LABELS])]
    shown.append(("Tenders", [(method, amount) for method, amount in document["tenders"].items()]))
    shown.append(
        ("GST by rate (base, tax)", [(f"{r['rate']}%", f"{r['base']}  {r['tax']}") for r in document["by_gst_rate"]])
    )
    if "issued_at" in document:
        shown.append(("Issued", [("at", document["issued_at"])]))
    if "z" in document:
        changed = document["since_z"]
        lines = [(key, _value(value)) for key, value in changed.items() if not isinstance(value, list | dict)]
        lines += [(f"tender {m}", v) for m, v in changed.get("tenders", {}).items()]
        lines += [(f"GST {r['rate']}%", f"{r['base']}  {r['tax']}") for r in changed.get("by_gst_rate", [])]
        heading = f"Since Z report no. {document['z']['number']} (issued {document['z']['issued_at']})"
        shown.append((heading, lines or [("", "no change")]))
    return shown


def _value(value: Any) -> str:
    return "-" if value is None else str(value)


def as_text(document: dict[str, Any]) -> str:
    out = [title_of(document), ""]
    for heading, lines in sections(document):
        out.append(heading)
        width = max((len(label) for label, _ in lines), default=0)
        out += [f"  {label.ljust(width)}  {value}" if label else f"  {value}" for label, value in lines]
        out.append("")
    return "\n".join(out)


def as_html(document: dict[str, Any]) -> str:
    title = html.escape(title_of(document))
    body = [f"<h1>{title}</h1>"]
    for heading, lines in sections(document):
        rows = "".join(
            f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>" for label, value in lines
        )
        body.append(f"<h2>{html.escape(heading)}</h2><table>{rows}</table>")
    style = (
        "body{font-family:sans-serif;max-width:40em;margin:2em auto}table{border-collapse:collapse;width:100%}"
        "th{text-align:left;font-weight:normal}td{text-align:right;font-family:monospace}"
        "th,td{border-bottom:1px solid #ddd;padding:.2em .4em}@media print{body{margin:0}}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
