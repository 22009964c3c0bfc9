"""Engine and session plumbing. One engine per process, made by whoever owns the process
(a worker after fork, the CLI at start-up); nothing here connects at import time."""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLSTATEs worth trying again: serialization failure, deadlock, and the connection-loss classes.
# Also: lock not available, query cancelled (statement timeout), and class 53 (out of memory, disk
# full, too many connections): the server's trouble, not the request's.
TRANSIENT_SQLSTATES = {
    "40001",
    "40P01",
    "57P01",
    "57P02",
    "57P03",
    "57014",
    "55P03",
    "08000",
    "08003",
    "08006",
    "08001",
    "08004",
    "53000",
    "53100",
    "53200",
    "53300",
}


def dumps(obj: Any) -> str:
    """JSON for JSONB columns: a Decimal is written as its exact string ("12.50"), never a float."""
    return json.dumps(obj, default=_exact, separators=(",", ":"))


def _exact(value: Any) -> str:
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
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None)
        if code in TRANSIENT_SQLSTATES:
            return True
        return isinstance(exc, OperationalError) and code is None
    return False


def in_transaction(sessions: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = 5) -> T:
    """Run `work` in one transaction: commit on return, roll back on raise.

    Deadlocks, serialization failures and lost connections are retried with jittered backoff;
    after `attempts` they surface as TransientError (the task layer retries further).
    """
    for attempt in range(1, attempts + 1):
        try:
            with sessions.begin() as session:
                return work(session)
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            log.warning("transient database error (attempt %d/%d): %s", attempt, attempts, exc.orig)
            if attempt == attempts:
                raise TransientError(str(exc.orig)) from exc
            time.sleep(min(2.0, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
