"""Batch use cases: stage a file's requests (or resume the unfinished batch of the same file), cut
them into ranges to send, replay rejected requests, reopen failed follow-ups, let a batch move on.
Sending is the caller's (tasks.messages), once these committed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.batches import staging, states
from domain.batches.entries import Entry
from domain.followups import failures
from domain.tables import Batch
from services.unit_of_work import Database


@dataclass(frozen=True)
class Staged:
    batch_id: int
    resumed: bool  # an unfinished batch of the same file: posting it again resumes it


def stage_batch(db: Database, source: str, digest: str, read_entries: Callable[[], Iterable[Entry]]) -> Staged:
    """Record the batch and every request in it (one COPY, one transaction), unless a batch of the
    same file has not finished posting. A file without a single request records nothing (NoRequests).
    `read_entries` reads the file from its start (again, when the transaction is tried again)."""
    resumed = db.read(partial(staging.unfinished_batch, digest=digest))
    if resumed is not None:
        return Staged(resumed, resumed=True)
    batch_id = db.transaction(lambda session: staging.stage(session, source, digest, read_entries()))
    return Staged(batch_id, resumed=False)


def pending_ranges(db: Database, batch_id: int, size: int) -> list[tuple[int, int]]:
    """The batch's PENDING intake ids, as ranges of `size` requests (first id, last id)."""
    return db.read(lambda session: list(staging.id_ranges(session, batch_id, size)))


def mark_sent(db: Database, batch_id: int, ranges_sent: int) -> None:
    """Start the sweeper's clock for the batch's requests; a batch with nothing to send moves on."""

    def sent(session: Session) -> None:
        staging.mark_batch_sent(session, batch_id)
        if not ranges_sent:
            states.advance(session, batch_id)

    db.transaction(sent)


def start_range(db: Database, batch_id: int, first: int, last: int) -> list[int]:
    """A worker starts on a range of the batch: the batch is POSTING; its PENDING ids in the range."""

    def start(session: Session) -> list[int]:
        states.start_posting(session, batch_id)
        return staging.pending_in_range(session, batch_id, first, last)

    return db.transaction(start)


def replay(db: Database, batch_id: int, reason: str | None = None) -> int:
    """The batch's REJECTED requests (of one reason, or all) become PENDING again; how many. NotFound
    for an unknown batch. The caller sends the batch again."""
    return db.transaction(partial(staging.reopen_rejected, batch_id=batch_id, reason=reason))


def retry_failed_follow_ups(db: Database, batch_id: int | None = None) -> dict[str, list[int]]:
    """Reopen the follow-ups that failed for good (of one batch, or all); the sale ids by kind, to send."""
    return db.transaction(partial(failures.retry_failed, batch_id=batch_id))


def advance(db: Database, batch_id: int) -> str:
    return db.transaction(partial(states.advance, batch_id=batch_id))


def count_batches_from(db: Database, source_like: str) -> int:
    """How many batches were staged from a source matching the LIKE pattern."""
    query = select(func.count()).select_from(Batch).where(Batch.source.like(source_like))
    return db.read(lambda session: session.scalar(query) or 0)
