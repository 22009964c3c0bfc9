"""Reading batch files as a stream: JSON Lines (canonical) and CSV (one line item a row).

Each yields `Entry(line_no, payload, problem)`: a decoded request, or the reason the text at that
line could not be read. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from domain.requests import decode

REQUEST_COLUMNS = ("request_id", "kind", "original_request_id", "outlet", "channel", "occurred_at", "cashier",
                   "customer", "notes")
LINE_COLUMNS = ("sku", "quantity", "unit_price", "discount")
CSV_COLUMNS = (*REQUEST_COLUMNS, *LINE_COLUMNS, "tenders")


@dataclass(frozen=True)
class Entry:
    line_no: int
    payload: Any
    problem: str | None = None


def read_batch(path: Path) -> Iterator[Entry]:
    stream = path.open(encoding="utf-8-sig", newline="")
    with stream:
        yield from (read_csv(stream) if path.suffix.lower() == ".csv" else read_jsonl(stream))


def read_jsonl(stream: TextIO) -> Iterator[Entry]:
    for line_no, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            yield Entry(line_no, decode(text))
        except ValueError as exc:
            yield Entry(line_no, {"line": text[:2000]}, f"line {line_no}: not valid JSON: {exc}")


def read_csv(stream: TextIO) -> Iterator[Entry]:
    """Rows of one request_id must be consecutive; request fields and tenders repeat on each row.

    `tenders` is `METHOD:AMOUNT[:REFERENCE]` joined by `;`, e.g. `CASH:20.00;CARD:15.50:VISA-1234`.
    """
    reader = csv.DictReader(stream)
    missing = [c for c in ("request_id", "outlet", "occurred_at", "sku", "quantity", "tenders")
               if c not in (reader.fieldnames or [])]
    unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
    if missing or unknown:
        problem = "; ".join([*(f"missing column {c}" for c in missing), *(f"unknown column {c}" for c in unknown)])
        yield Entry(1, {"header": reader.fieldnames}, f"line 1: {problem}")
        return
    numbered = ((reader.line_num, row) for row in reader)
    for _, group in groupby(numbered, key=lambda item: item[1]["request_id"]):
        rows = list(group)
        yield _csv_request(rows)


def _csv_request(rows: list[tuple[int, dict[str, str]]]) -> Entry:
    line_no, first = rows[0]
    request: dict[str, Any] = {k: first[k] for k in REQUEST_COLUMNS if first.get(k)}
    for later_no, row in rows[1:]:
        for key in (*REQUEST_COLUMNS, "tenders"):
            if (row.get(key) or "") != (first.get(key) or ""):
                return Entry(line_no, request, f"line {later_no}: {key} differs from line {line_no} of the same request")
    request["lines"] = [{k: row[k] for k in LINE_COLUMNS if row.get(k)} for _, row in rows]
    try:
        request["tenders"] = parse_tenders(first["tenders"])
    except ValueError as exc:
        return Entry(line_no, request, f"line {line_no}: tenders: {exc}")
    return Entry(line_no, request)


def parse_tenders(text: str) -> list[dict[str, Any]]:
    tenders = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        method, _, rest = part.partition(":")
        amount, _, reference = rest.partition(":")
        try:
            Decimal(amount)
        except InvalidOperation:
            raise ValueError(f"{part!r} is not METHOD:AMOUNT[:REFERENCE]") from None
        tenders.append({"method": method, "amount": amount, "reference": reference or None})
    return tenders


def write_csv(requests: list[dict[str, Any]]) -> str:
    """The inverse of read_csv, for tests and the demo."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for request in requests:
        tenders = ";".join(
            f"{t['method']}:{t['amount']}" + (f":{t['reference']}" if t.get("reference") else "")
            for t in request["tenders"]
        )
        for line in request["lines"]:
            row = {k: request.get(k) for k in REQUEST_COLUMNS}
            row.update({k: line.get(k) for k in LINE_COLUMNS}, tenders=tenders)
            writer.writerow(row)
    return out.getvalue()
