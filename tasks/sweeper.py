"""The sweeper: PostgreSQL is the record, Redis only transport. Whatever is still undone after a
while (a flushed Redis, a killed worker) is enqueued again from the ledger. Harmless when the
original message turns up after all: every task is idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task

from domain import batches, followups
from domain.db import in_transaction
from domain.intake import stale_pending
from tasks import db
from tasks.followups import enqueue_follow_ups
from tasks.posting import post_requests

STALE_AFTER = timedelta(seconds=60)
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
def sweep(self: Any, stale_after_seconds: float | None = None) -> dict[str, int]:
    """Re-enqueue stale PENDING requests and open follow-ups. Skips a queue that still has a backlog
    (its messages are coming), so a long batch is not enqueued twice while it is being worked off."""
    stale_after = STALE_AFTER if stale_after_seconds is None else timedelta(seconds=stale_after_seconds)
    swept = {"requests": 0, "follow_ups": 0}
    if queue_length(self.app, "posting") == 0:
        ids = in_transaction(db.sessions(), lambda s: stale_pending(s, stale_after, LIMIT))
        for start in range(0, len(ids), CHUNK):
            post_requests.delay(ids[start : start + CHUNK])
        swept["requests"] = len(ids)
    if queue_length(self.app, "followups") == 0:
        open_ones = in_transaction(db.sessions(), lambda s: followups.open_follow_ups(s, stale_after, LIMIT))
        for kind, sale_ids in open_ones.items():
            for start in range(0, len(sale_ids), CHUNK):
                enqueue_follow_ups(sale_ids[start : start + CHUNK], kinds=(kind,))
            swept["follow_ups"] += len(sale_ids)
    db.advance_batches(in_transaction(db.sessions(), batches.unfinished))
    return swept
