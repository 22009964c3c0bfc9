"""The sweeper: PostgreSQL is the record, Redis only transport. Whatever is still undone after a
while (a flushed Redis, a killed worker) is found in the ledger, for the caller to send again.
Harmless when the original message turns up after all: every task is idempotent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from domain import heartbeat
from domain.batches.states import advance_all, unfinished
from domain.followups.outbox import open_follow_ups
from domain.posting.intake import stale_pending
from services.unit_of_work import Database

log = logging.getLogger(__name__)
NAME = "sweeper"
LIMIT = 20_000  # requests, and follow-ups, found by one sweep at most


@dataclass
class Sweep:
    """What a sweep found undone (to send again once it committed), or why it did not sweep."""

    skipped: str | None = None
    requests: list[int] = field(default_factory=list)
    follow_ups: dict[str, list[int]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": self.skipped}
        return {"requests": len(self.requests), "follow_ups": sum(len(ids) for ids in self.follow_ups.values())}


def sweep(
    db: Database,
    stale_after: timedelta,
    every: float,
    has_backlog: Callable[[str], bool],
    by: str = "asked",
    when_overdue: bool = False,
) -> Sweep:
    """Find stale PENDING requests (marked sent again) and open follow-ups, let unfinished batches move
    on, and leave the heartbeat row, in one transaction.

    One sweep at a time: a second one gives up at once instead of waiting (PostgreSQL advisory lock,
    held until the heartbeat commits). `when_overdue` is a worker's own check: it sweeps only when no
    sweep ran for two intervals (beat is gone), standing in for beat. A queue that still has a backlog
    (`has_backlog(queue)`) is skipped: its messages are coming, and a long batch is not sent twice.
    """

    def locked(session: Session) -> Sweep:
        if not heartbeat.claim(session, NAME):
            return Sweep(skipped="another sweep is running")
        if when_overdue and not _overdue(session, every):
            return Sweep(skipped="a sweep ran recently")
        found = Sweep()
        if not has_backlog("posting"):
            found.requests = stale_pending(session, stale_after, LIMIT)
        if not has_backlog("followups"):
            found.follow_ups = open_follow_ups(session, stale_after, LIMIT)
        advance_all(session, unfinished(session))
        heartbeat.record(session, NAME, {**found.summary(), "by": by, "every": every})
        return found

    return db.transaction(locked)


def _overdue(session: Session, every: float) -> bool:
    since = heartbeat.seconds_since(session, NAME)
    if since is not None and since <= 2 * every:
        return False
    last = "never" if since is None else f"{since:.0f} s ago"
    log.warning("the sweeper is overdue (expected every %.0f s, last ran %s): sweeping here", every, last)
    return True
