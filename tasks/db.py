"""One engine per worker process, made on first use after fork (never at import time)."""

from __future__ import annotations

import os
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from domain.db import in_transaction, make_engine, session_factory

_made: tuple[int, sessionmaker[Session]] | None = None


def sessions() -> sessionmaker[Session]:
    """This process's session factory. A forked child gets its own engine, never its parent's sockets."""
    global _made
    if _made is None or _made[0] != os.getpid():
        from runtime import settings

        engine = make_engine(settings.load().database_url, pool_size=2, max_overflow=2)
        _made = (os.getpid(), session_factory(engine))
    return _made[1]


def advance_batches(batch_ids: list[int]) -> None:
    """Let each batch move on (POSTING -> POSTED -> DONE or ATTENTION), each in its own short transaction."""
    from domain.batches.staging import advance

    for batch_id in batch_ids:
        in_transaction(sessions(), partial(advance, batch_id=batch_id))
