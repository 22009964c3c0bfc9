"""Batch tasks: a message names a range of one batch's intake ids (a claim check of ~200 sales)."""

from __future__ import annotations

from functools import partial
from typing import Any

from celery import shared_task
from sqlalchemy.orm import Session, sessionmaker

from domain.batches import staging as batches
from domain.db import in_transaction
from tasks import db
from tasks.posting import post_chunk


@shared_task(bind=True, name="tasks.posting.post_batch_range", max_retries=None)
def post_batch_range(self: Any, batch_id: int, first: int, last: int) -> dict[str, int]:
    """Post the PENDING requests of `batch_id` with ids in [first, last], each in its own transaction."""
    sessions = db.sessions()
    in_transaction(sessions, lambda s: batches.start_posting(s, batch_id))
    intake_ids = in_transaction(sessions, lambda s: batches.pending_in_range(s, batch_id, first, last))
    return post_chunk(self, intake_ids) if intake_ids else {}


def enqueue_batch(sessions: sessionmaker[Session], batch_id: int, chunk: int = 200) -> int:
    """Send one message per range of pending ids; returns how many messages were sent."""
    sent = 0
    with sessions() as session:
        for first, last in batches.id_ranges(session, batch_id, chunk):
            post_batch_range.delay(batch_id, first, last)
            sent += 1
    in_transaction(sessions, partial(batches.mark_enqueued, batch_id=batch_id))
    if not sent:
        in_transaction(sessions, lambda s: batches.advance(s, batch_id))
    return sent
