"""Engine plumbing and the JSON of JSONB columns. One engine per process, made by whoever owns the
process (services.unit_of_work.connect); nothing here connects at import time, and nothing commits."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, TextClause, create_engine
from sqlalchemy.exc import DBAPIError, ResourceClosedError

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


class Direct:
    """A statement run often enough that SQLAlchemy's execution of it shows: psycopg's cursor runs it
    directly, on the connection's own transaction (or autocommit), rows as plain tuples. Measured
    with 25 parameters: 0.09-0.10 ms of client CPU through `Connection.execute` (or
    `exec_driver_sql`), 0.02-0.04 ms directly. An error comes out as SQLAlchemy would raise it (a
    DBAPIError, the connection invalidated when it was lost), so callers and retries see no
    difference."""

    def __init__(self, statement: TextClause) -> None:
        self.statement = statement
        self._sql: str | None = None

    def rows(self, conn: Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        dbapi = conn.connection.dbapi_connection
        if dbapi is None:
            raise ResourceClosedError("this connection is closed")
        if self._sql is None:
            self._sql = str(self.statement.compile(dialect=conn.dialect))
        try:
            cursor = dbapi.cursor()
            try:  # listeners (a test's statement count, the benchmark's timer) see it as any other
                conn.dispatch.before_cursor_execute(conn, cursor, self._sql, params, None, False)
                cursor.execute(self._sql, params)
                conn.dispatch.after_cursor_execute(conn, cursor, self._sql, params, None, False)
                return list(cursor.fetchall())
            finally:
                cursor.close()
        except conn.dialect.loaded_dbapi.Error as exc:
            lost = conn.dialect.is_disconnect(exc, dbapi, None)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                self._sql,
                params,
                exc,
                conn.dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=conn.dialect,
            ) from exc
