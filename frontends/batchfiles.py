"""Reading batch files as a stream: JSON Lines (canonical) and CSV (one line item a row).

Each yields `Entry(line_no, payload, problem)`: a decoded request, or the reason the text at that
line could not be read. Memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from itertools import groupby
from pathlib import Path
from typing import Any, TextIO

from domain.batches.entries import BatchFileError, Entry, printable, printable_all, storable
from domain.csvrows import Row, csv_rows
from domain.posting.request import decode

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


class UnreadableFile(BatchFileError):
    """The path names no file that can be read (missing, a directory, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def check_readable(path: Path) -> None:
    if path.is_dir():
        raise UnreadableFile(path, "is a directory, not a batch file")
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError:
        raise UnreadableFile(path, "no such file") from None
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read ({exc.strerror})") from None


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


def read_csv(stream: TextIO) -> Iterator[Entry]:
    """Rows of one request_id must be adjacent; request fields and tenders repeat on each row.

    `tenders` is `METHOD:AMOUNT[:REFERENCE]` joined by `;`, e.g. `CASH:20.00;CARD:15.50:VISA-1234`.
    A row that cannot be read makes the request it names INVALID, never a sale without that row; a
    request_id that appears again after other rows is caught after staging (domain/batches/staging.py: stage).
    """
    rows = csv_rows(stream)
    header = next(rows, None)
    if header is None:
        return
    problem = header.problem or _header_problem(header.cells)
    if problem:
        payload = {"header": header.cells} if header.problem is None else {"line": header.text}
        yield Entry(header.line, printable_all(payload), f"line {header.line}: {printable(problem)}")
        return
    columns = header.cells
    position = columns.index("request_id")
    for _, group in groupby(rows, key=lambda row: _request_of(row, position)):
        yield _stored(_csv_entry(list(group), columns, position))


def _header_problem(columns: list[str]) -> str:
    missing = [c for c in ("request_id", "outlet", "occurred_at", "sku", "quantity", "tenders") if c not in columns]
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    return "; ".join([*(f"missing column {c}" for c in missing), *(f"unknown column {c}" for c in unknown)])


def _request_of(row: Row, position: int) -> tuple[str, int]:
    """What groups a row with its neighbours: its request_id; a row without one stands alone."""
    request_id = row.cells[position] if position < len(row.cells) else ""
    return (request_id, 0) if request_id else ("", row.line)


def _csv_entry(rows: list[Row], columns: list[str], position: int) -> Entry:
    span = (rows[0].line, rows[-1].last_line)
    readable = [(row.line, dict(zip(columns, row.cells, strict=True))) for row in rows if row.problem is None]
    bad = next((row for row in rows if row.problem is not None), None)
    if bad is None:
        return dataclasses.replace(_csv_request(readable), rows=span)
    payload = _csv_request(readable).payload if readable else _unreadable(bad, position)
    return Entry(rows[0].line, payload, f"line {bad.line}: {bad.problem}", span)


def _unreadable(row: Row, position: int) -> dict[str, str]:
    request_id = _request_of(row, position)[0]
    return {"request_id": request_id, "line": row.text} if request_id else {"line": row.text}


def _stored(entry: Entry) -> Entry:
    """A request whose cells JSONB cannot hold (NUL, bytes that are not UTF-8) is INVALID on its own."""
    try:
        storable(entry.payload)
    except ValueError as exc:
        problem = entry.problem or f"line {entry.line_no}: {exc}"
        return dataclasses.replace(entry, payload=printable_all(entry.payload), problem=printable(problem))
    return entry


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


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
