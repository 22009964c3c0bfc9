"""Heartbeats: when a recurring job (the sweeper) last ran, who ran it and what it did.

A recovery that has stopped must be seen, not trusted: `batch show` and `check` warn when the
sweeper is overdue. The run that writes a heartbeat says how often it is expected (`every`, in
seconds), so the reader needs no configuration of its own. The caller owns the transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert

from domain.plain_tables import heartbeats

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


# A job is overdue when three of its runs were missed: beat ran late and no worker stood in for it
# (a worker sweeps by itself after two: see workers/selfsweep.py).
OVERDUE_AFTER_RUNS = 3
DEFAULT_EVERY = 30.0


def claim(session: Session, name: str) -> bool:
    """Take the one-at-a-time lock of job `name` for the rest of this transaction; never waits.
    False when another run holds it. Released by the commit or rollback, or when the run dies."""
    key = func.hashtext(f"tillpost:{name}")
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(key))))


def record(session: Session, name: str, details: dict[str, Any]) -> None:
    """The job ran now and did `details`."""
    statement = insert(heartbeats).values(name=name, at=func.clock_timestamp(), details=details)
    latest = {"at": statement.excluded.at, "details": statement.excluded.details}
    session.execute(statement.on_conflict_do_update(index_elements=[heartbeats.c.name], set_=latest))


def seconds_since(session: Session | Connection, name: str) -> float | None:
    """Seconds since job `name` last ran (by the database's clock); None when it never ran."""
    age = session.scalar(
        select(func.extract("epoch", func.clock_timestamp() - heartbeats.c.at)).where(heartbeats.c.name == name)
    )
    return None if age is None else float(age)


def status(session: Session | Connection, name: str) -> dict[str, Any]:
    """{last_run, seconds_ago, by, every, overdue, details} of job `name`; a job that never ran is overdue."""
    beat = heartbeats.c
    age = func.extract("epoch", func.clock_timestamp() - beat.at)
    row = session.execute(select(beat.at, beat.details, age).where(beat.name == name)).one_or_none()
    if row is None:
        return {"last_run": None, "seconds_ago": None, "by": None, "every": None, "overdue": True, "details": None}
    at, details, age = row
    details = details or {}
    every = float(details.get("every") or DEFAULT_EVERY)
    return {
        "last_run": at.isoformat(),
        "seconds_ago": round(float(age)),
        "by": details.get("by"),
        "every": every,
        "overdue": float(age) > OVERDUE_AFTER_RUNS * every,
        "details": details,
    }
