"""The sweeper: PostgreSQL is the record, Redis only transport. Whatever is still undone after a
while (a flushed Redis, a killed worker) is enqueued again from the ledger. Harmless when the
original message turns up after all: every task is idempotent."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from sqlalchemy.orm import Session

from domain import heartbeat
from domain.batches import staging as batches
from domain.db import in_transaction
from domain.followups import outbox as followups
from domain.posting.intake import stale_pending
from runtime import settings
from tasks import db
from tasks.followups import enqueue_follow_ups
from tasks.posting import post_requests

log = logging.getLogger(__name__)
NAME = "sweeper"
CHUNK = 200
LIMIT = 20_000


def queue_length(app: Any, queue: str) -> int:
    """Messages waiting in `queue`; 0 when the broker does not know the queue (e.g. Redis was flushed)."""
    with app.connection_for_read() as conn:
        try:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except conn.channel_errors:
            return 0


@shared_task(bind=True, name="tasks.sweeper.sweep")
def sweep(
    self: Any, stale_after_seconds: float | None = None, by: str = "asked", when_overdue: bool = False
) -> dict[str, Any]:
    """Re-enqueue stale PENDING requests and open follow-ups, then leave the heartbeat row.

    One sweep at a time: a second one gives up at once instead of waiting (PostgreSQL advisory
    lock, held until the heartbeat commits). `when_overdue` is a worker's own check: it sweeps
    only when no sweep ran for two intervals (beat is gone), standing in for beat."""
    config = settings.load()
    stale_after = timedelta(seconds=config.stale_after if stale_after_seconds is None else stale_after_seconds)
    with db.sessions().begin() as session:
        if not heartbeat.claim(session, NAME):
            return {"skipped": "another sweep is running"}
        if when_overdue and not _overdue(session, config.sweep_interval):
            return {"skipped": "a sweep ran recently"}
        swept = _sweep(self.app, stale_after)
        heartbeat.record(session, NAME, {**swept, "by": by, "every": config.sweep_interval})
    return swept


def _overdue(session: Session, every: float) -> bool:
    since = heartbeat.seconds_since(session, NAME)
    if since is not None and since <= 2 * every:
        return False
    last = "never" if since is None else f"{since:.0f} s ago"
    log.warning("the sweeper is overdue (expected every %.0f s, last ran %s): sweeping here", every, last)
    return True


def _sweep(app: Any, stale_after: timedelta) -> dict[str, int]:
    """Skips a queue that still has a backlog (its messages are coming), so a long batch is not
    enqueued twice while it is being worked off."""
    swept = {"requests": 0, "follow_ups": 0}
    if queue_length(app, "posting") == 0:
        ids = in_transaction(db.sessions(), lambda s: stale_pending(s, stale_after, LIMIT))
        for start in range(0, len(ids), CHUNK):
            post_requests.delay(ids[start : start + CHUNK])
        swept["requests"] = len(ids)
    if queue_length(app, "followups") == 0:
        open_ones = in_transaction(db.sessions(), lambda s: followups.open_follow_ups(s, stale_after, LIMIT))
        for kind, sale_ids in open_ones.items():
            for start in range(0, len(sale_ids), CHUNK):
                enqueue_follow_ups(sale_ids[start : start + CHUNK], kinds=(kind,))
            swept["follow_ups"] += len(sale_ids)
    db.advance_batches(in_transaction(db.sessions(), batches.unfinished))
    return swept
