"""The one way a use case reaches PostgreSQL: `connect(settings)` once per process, then
`db.transaction(work)` (commit on return, roll back on raise, a transient fault retried) or
`db.read(work)` (a read, nothing written)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.db import in_transaction, make_engine, session_factory
from runtime import embedded
from runtime.settings import Settings

T = TypeVar("T")


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions: sessionmaker[Session] = session_factory(engine)

    def transaction(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one transaction; deadlocks and lost connections are retried (TransientError after)."""
        return in_transaction(self.sessions, work)

    def read(self, work: Callable[[Session], T]) -> T:
        with self.sessions() as session:
            return work(session)

    def dispose(self) -> None:
        self.engine.dispose()


def connect(config: Settings, **engine_options: Any) -> Database:
    """The engine of `config`'s database (the embedded one started first when that is the one named)."""
    embedded.ensure_running(config)
    return Database(make_engine(config.database_url, **engine_options))
