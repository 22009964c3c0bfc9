"""Printing: `--json` writes one JSON document on stdout; otherwise a plain table for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=_plain) + "\n")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    if not rows:
        print("(none)")
        return
    cells = [[("" if row.get(c) is None else str(row.get(c))) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def fields(document: dict[str, Any]) -> None:
    width = max(len(k) for k in document)
    for key, value in document.items():
        if value is None or isinstance(value, (list, dict)):
            continue
        print(f"{key.ljust(width)}  {value}")
    for error in document.get("errors") or []:
        print(f"  - {error['field'] or '(request)'}: {error['reason']}")
