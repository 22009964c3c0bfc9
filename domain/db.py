"""Engine plumbing and the JSON of JSONB columns. One engine per process, made by whoever owns the
process (services.unit_of_work.connect); nothing here connects at import time, and nothing commits."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


def dumps(obj: Any) -> str:
    """JSON for JSONB columns: a Decimal is written as its exact string ("12.50"), never a float."""
    return json.dumps(obj, default=_decimal_as_string, separators=(",", ":"))


def _decimal_as_string(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def make_engine(url: str, **options: Any) -> Engine:
    """An engine whose JSONB columns keep decimals exact both ways."""
    options.setdefault("pool_pre_ping", True)
    return create_engine(
        url,
        json_serializer=dumps,
        json_deserializer=partial(json.loads, parse_float=Decimal),
        **options,
    )


def session_factory(engine: Engine) -> sessionmaker[Session]:
    from sqlalchemy.orm import sessionmaker  # imported when a session is first wanted (see Database.rows)

    return sessionmaker(engine, expire_on_commit=False, autoflush=False)
