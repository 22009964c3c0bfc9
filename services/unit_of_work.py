"""The one way a use case reaches PostgreSQL: `connect(settings)` once per process, then
`db.transaction(work)` (commit on return, roll back on raise) or `db.read(work)` (nothing written);
`db.statements(work)` where each statement is its own transaction (posting's plain sales).

The one retry policy for a transient fault (deadlock, serialization failure, lost connection, the
server's own trouble): `transaction` and `read` try the work again at once, ATTEMPTS times in all, a
few tens of milliseconds apart (a deadlock victim usually passes on its second try); after that they
raise TransientError and give up. Nothing else retries in process: a task turns TransientError into a
Celery retry with backoff (tasks/, `autoretry_for`), and a front-end reports it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError

from domain.db import make_engine, session_factory
from domain.errors import NotMigrated, TransientError
from migrations import HEAD
from runtime import embedded
from runtime.settings import Settings

if TYPE_CHECKING:  # the ORM is imported by the first session: `db.rows` (batch show) never needs it
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
T = TypeVar("T")
ATTEMPTS = 3

# SQLSTATEs worth trying again: serialization failure, deadlock, and the connection-loss classes.
# Also: lock not available, query cancelled (statement timeout), and class 53 (out of memory, disk
# full, too many connections): the server's trouble, not the request's.
TRANSIENT_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "57014", "55P03", "08000", "08003", "08006", "08001", "08004"}
    | {"53000", "53100", "53200", "53300"}
)


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def transaction(self, work: Callable[[Session], T], *, snapshot: bool = False) -> T:
        """Run `work` in one transaction; a transient fault is tried again, then TransientError. With
        `snapshot`, every statement of it sees the same moment (REPEATABLE READ), frozen when its first
        query (not a LOCK TABLE) begins: a document summed by several statements, such as a Z, is the
        ledger of one moment."""

        def attempt() -> T:
            with self.sessions.begin() as session:
                if snapshot:
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                return work(session)

        return _trying_again(attempt)

    def read(self, work: Callable[[Session], T], *, snapshot: bool = False) -> T:
        """Run `work` on a session that writes nothing (a transient fault is tried again, as for a
        transaction). With `snapshot`, every statement of it sees the same moment (REPEATABLE READ):
        figures compared with each other, such as a batch's reconciliation while workers post, never
        come from two different moments."""

        def attempt() -> T:
            with self.sessions() as session:
                if snapshot:
                    session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
                return work(session)

        return _trying_again(attempt)

    def statements(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on a connection where every statement is a transaction of its own (autocommit),
        for work made of statements that each stand alone, such as posting plain sales in one round
        trip each. Nothing is tried again here: a statement either committed or left nothing, and the
        work itself says what to do with the rest after a fault."""
        try:
            with self.engine.connect() as conn:
                return work(conn.execution_options(isolation_level="AUTOCOMMIT"))
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            raise TransientError(str(exc.orig)) from exc

    def rows(self, work: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """As `read`, on a plain Core connection instead of a session: for the reads a short-lived
        process makes (`tillpost batch show`, polled every second), which would spend more time
        importing the ORM than running their queries. Nothing is written: the connection rolls back."""

        def attempt() -> T:
            with self.engine.connect() as connection:
                if snapshot:
                    connection.execution_options(isolation_level="REPEATABLE READ")
                return work(connection)

        return _trying_again(attempt)

    def answers(self) -> None:
        """Reach the database once, so that a command which cannot reach it, or finds it migrated
        to another schema than this code's (NotMigrated), fails before doing anything."""
        at = self.rows(_schema_revision)
        if at != HEAD:
            raise NotMigrated(at, HEAD)

    def dispose(self) -> None:
        self.engine.dispose()


def _schema_revision(connection: Connection) -> str | None:
    """The database's Alembic revision; None when nobody migrated it (no alembic_version table)."""
    if connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
        return None
    revision: str | None = connection.execute(text("SELECT max(version_num) FROM alembic_version")).scalar()
    return revision


def _trying_again(attempt: Callable[[], T]) -> T:
    for n in range(1, ATTEMPTS + 1):
        try:
            return attempt()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            # INFO: the caller reports the fault if it lasts (a worker logs the retry, a command says
            # "cannot reach PostgreSQL" once); a passing one is no warning.
            log.info("transient database error (attempt %d/%d): %s", n, ATTEMPTS, exc.orig)
            if n == ATTEMPTS:
                raise TransientError(str(exc.orig)) from exc
            time.sleep(0.05 * n * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")


def is_transient(exc: BaseException) -> bool:
    """A fault of the moment, not of the request: trying again later can pass."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlstate", None)
    return code in TRANSIENT_SQLSTATES or (isinstance(exc, OperationalError) and code is None)


def connect(config: Settings, **engine_options: Any) -> Database:
    """The engine of `config`'s database (the embedded one started first when that is the one named)."""
    embedded.ensure_running(config)
    return Database(make_engine(config.database_url, **engine_options))
