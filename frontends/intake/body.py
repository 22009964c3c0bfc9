"""Reading a body: at most 1 MiB (Content-Length checked first, then counted while reading, so a
lying or absent Content-Length changes nothing), then JSON with exact decimals."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from domain.errors import FieldError
from domain.posting.request import decode
from frontends.intake.refusals import TooLarge, Unprocessable

MAX_BODY = 1024 * 1024


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > MAX_BODY:
        raise TooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(body: bytes) -> Any:
    try:
        return decode(body)
    except (ValueError, RecursionError) as exc:
        raise Unprocessable([FieldError("", f"not valid JSON: {exc}")]) from None
