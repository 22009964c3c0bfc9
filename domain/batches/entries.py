"""A batch file read as entries: a decoded request at a line, or why that line could not be read;
and what PostgreSQL can store of it (JSONB refuses NUL, lone surrogates, NaN)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.errors import TillpostError


@dataclass(frozen=True)
class Entry:
    line_no: int
    payload: Any
    problem: str | None = None
    rows: tuple[int, int] | None = None  # a CSV request: the first and last line of its rows


class BatchFileError(TillpostError):
    """The file given holds no batch to record; nothing was recorded."""


class NoRequests(BatchFileError):
    """The file is empty, or holds only a CSV header or blank lines."""

    def __init__(self, source: str) -> None:
        super().__init__(f"{source}: no requests (the file is empty, or holds only a header or blank lines)")
        self.source = source


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
# Lone surrogates that are not bytes read with surrogateescape (those are U+DC80..U+DCFF): an escaped
# "\\ud800" in JSON text.
_LONE_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store the text (as text or in JSONB): no NUL, no lone surrogate."""
    return not _UNSTORABLE.search(text)


def printable(text: str) -> str:
    """Text read from a file or a web delivery, made storable: bytes that were not UTF-8 as \\xNN,
    another lone surrogate as \\udNNN, NUL as \\x00."""
    text = _LONE_SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def printable_all(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [printable_all(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): printable_all(v) for k, v in value.items()}
    return value
