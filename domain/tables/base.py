"""What every ledger table shares: the declarative base, its naming convention, the column types of
money, prices, quantities and rates, and the Core table behind a mapped class."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    MetaData,
    Numeric,
    Select,
    Table,
    any_,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Mapped, mapped_column

MONEY = Numeric(14, 2)
PRICE = Numeric(14, 4)
QTY = Numeric(14, 3)
RATE = Numeric(5, 2)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def core_table(model: type[Base]) -> Table:
    """The Core table behind a mapped class. Hot-path inserts go through it: the ORM's bulk path
    spends more time on per-row bookkeeping than PostgreSQL spends on the rows."""
    return cast(Table, model.__table__)


def defaults_to_now() -> Mapped[datetime]:
    """A timestamp column the database fills in with the time of the insert."""
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def among(
    column: ColumnElement[int | None] | InstrumentedAttribute[int | None], ids: Iterable[int]
) -> ColumnElement[bool]:
    """`column = ANY(:ids)`: a set of ids as one array parameter. `column.in_(ids)` renders a
    parameter per id, so each set size is a new statement to compile, and over 50 parameters psycopg
    parses it again on every call; the follow-ups run on sets of 200 sales. To read a large table by
    the ids of a set, prefer `each_of`."""
    return column == any_(literal(list(ids), ARRAY(BigInteger)))


def each_of(ids: Iterable[int], rows_of: Callable[[ColumnElement[int]], Select[*tuple[Any, ...]]]) -> Select[Any]:
    """The rows `rows_of(id)` selects, for each id of a set passed as one array: an index lookup an
    id, whatever the plan. Use it where `among` would read a large table by the ids of a set.

    `among` leaves the plan to PostgreSQL, and once a statement is prepared its plan is generic: made
    while a table was small (a new ledger, before autovacuum's first ANALYZE), it scans the table and
    tests each row against each id, one after another (it hashes only a constant array). A receipt
    set's tenders took 18 ms so (pg_stat_statements). Here each id drives a lookup of its own: LATERAL,
    fenced by OFFSET 0 so the planner cannot turn it into a join and scan the table first.
    """
    wanted = func.unnest(literal(list(ids), ARRAY(BigInteger))).table_valued("id").render_derived(name="wanted")
    found = rows_of(wanted.c.id).offset(literal_column("0")).lateral("found")
    return select(found).select_from(wanted).join(found, true())
