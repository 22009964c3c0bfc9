"""What every task shares: this worker process's database, and the retry of a passing fault."""

from __future__ import annotations

import os
from typing import Any

from domain.errors import TransientError
from runtime import settings
from services.unit_of_work import Database, connect

# A passing fault (lost connection, deadlock: TransientError, after services.unit_of_work tried the
# transaction a few times at once) becomes a Celery retry: 1, 2, 4 ... s apart with full jitter, at
# most a minute, at most 20 times (about a quarter of an hour). After that the task gives up; what it
# left undone is still undone in PostgreSQL, and the sweeper sends it again.
RETRY_PASSING_FAULTS: dict[str, Any] = {
    "autoretry_for": (TransientError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 20,
}

_connected: tuple[int, Database] | None = None


def database() -> Database:
    """This process's database. A forked pool process connects on first use: never its parent's sockets.

    No pre-ping: it cost a round trip on every transaction (a fifth of a sale's); a connection that
    died with its server fails its first statement instead, and every use case is tried again on a
    fresh one (services/unit_of_work.py)."""
    global _connected
    if _connected is None or _connected[0] != os.getpid():
        _connected = (os.getpid(), connect(settings.load(), pool_size=2, max_overflow=2, pool_pre_ping=False))
    return _connected[1]
