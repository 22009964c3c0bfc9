"""Reading batch files as a stream: JSON Lines (canonical) and CSV (one line item a row).

Each yields `Entry(line_no, payload, problem)`: a decoded request, or the reason the text at that
line could not be read. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from domain.requests import decode

REQUEST_COLUMNS = (
    "request_id",
    "kind",
    "original_request_id",
    "outlet",
    "channel",
    "occurred_at",
    "cashier",
    "customer",
    "notes",
)
LINE_COLUMNS = ("sku", "quantity", "unit_price", "discount")
CSV_COLUMNS = (*REQUEST_COLUMNS, *LINE_COLUMNS, "tenders")


@dataclass(frozen=True)
class Entry:
    line_no: int
    payload: Any
    problem: str | None = None


def read_batch(path: Path) -> Iterator[Entry]:
    # Bytes that are not UTF-8 are kept as surrogates and make their own line INVALID (storable()),
    # instead of a UnicodeDecodeError that would stop the whole file.
    stream = path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    with stream:
        yield from (read_csv(stream) if path.suffix.lower() == ".csv" else read_jsonl(stream))


def read_jsonl(stream: TextIO) -> Iterator[Entry]:
    for line_no, text in enumerate(stream, start=1):
        if not text.strip():
            continue
        try:
            payload = decode(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python's limit
            yield Entry(line_no, {"line": printable(text[:2000])}, f"line {line_no}: not valid JSON: {exc}")
            continue
        try:
            yield Entry(line_no, storable(payload))
        except (ValueError, RecursionError) as exc:
            yield Entry(line_no, {"line": printable(text[:2000])}, f"line {line_no}: cannot be stored: {exc}")


def storable(payload: Any, where: str = "") -> Any:
    """The payload, if it can be fingerprinted and stored as JSONB; else ValueError naming the first bad value.

    One such line must not fail the COPY of the whole batch. json.loads takes NaN and Infinity (not
    JSON) and numbers like 1e999999999 (too large to write out); strings may hold NUL or lone
    surrogates (an escaped "\\ud800", or bytes that were not UTF-8). JSONB refuses them all.
    """
    if isinstance(payload, float):
        raise ValueError(f"{where or 'value'}: {payload} is not a JSON number")
    if isinstance(payload, Decimal) and abs(payload.as_tuple().exponent) > MAX_EXPONENT:  # type: ignore[arg-type]
        raise ValueError(f"{where or 'value'}: {payload} has too many digits for any amount or quantity")
    if isinstance(payload, str):
        if _UNSTORABLE.search(payload):
            raise ValueError(f"{where or 'value'}: text with a NUL character or bytes that are not UTF-8")
        return payload
    if isinstance(payload, list):
        for n, item in enumerate(payload):
            storable(item, f"{where}[{n}]")
    elif isinstance(payload, dict):
        for key, value in payload.items():
            storable(key, where)
            storable(value, f"{where}.{key}" if where else key)
    return payload


MAX_EXPONENT = 1000
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def printable(text: str) -> str:
    """Text read from the file, made storable: bytes that were not UTF-8 as \\xNN, NUL as \\x00."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def read_csv(stream: TextIO) -> Iterator[Entry]:
    """Rows of one request_id must be consecutive; request fields and tenders repeat on each row.

    `tenders` is `METHOD:AMOUNT[:REFERENCE]` joined by `;`, e.g. `CASH:20.00;CARD:15.50:VISA-1234`.
    """
    reader = csv.DictReader(stream)
    missing = [
        c
        for c in ("request_id", "outlet", "occurred_at", "sku", "quantity", "tenders")
        if c not in (reader.fieldnames or [])
    ]
    unknown = [c for c in reader.fieldnames or [] if c not in CSV_COLUMNS]
    if missing or unknown:
        problem = "; ".join([*(f"missing column {c}" for c in missing), *(f"unknown column {c}" for c in unknown)])
        yield Entry(1, _printable_all({"header": reader.fieldnames}), f"line 1: {printable(problem)}")
        return
    numbered = ((reader.line_num, row) for row in reader)
    for _, group in groupby(numbered, key=lambda item: item[1]["request_id"]):
        rows = list(group)
        yield _stored(_csv_request(rows))


def _stored(entry: Entry) -> Entry:
    """A request whose cells JSONB cannot hold (NUL, bytes that are not UTF-8) is INVALID on its own."""
    try:
        storable(entry.payload)
    except ValueError as exc:
        problem = entry.problem or f"line {entry.line_no}: {exc}"
        return Entry(entry.line_no, _printable_all(entry.payload), printable(problem))
    return entry


def _printable_all(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_printable_all(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): _printable_all(v) for k, v in value.items()}
    return value


def _csv_request(rows: list[tuple[int, dict[str, str]]]) -> Entry:
    line_no, first = rows[0]
    request: dict[str, Any] = {k: first[k] for k in REQUEST_COLUMNS if first.get(k)}
    for later_no, row in rows[1:]:
        for key in (*REQUEST_COLUMNS, "tenders"):
            if (row.get(key) or "") != (first.get(key) or ""):
                return Entry(
                    line_no, request, f"line {later_no}: {key} differs from line {line_no} of the same request"
                )
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
