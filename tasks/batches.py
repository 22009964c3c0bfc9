"""Batch tasks: a message names a range of one batch's intake ids (a claim check of ~200 sales)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from domain import batches
from domain.db import in_transaction
from domain.errors import TransientError
from domain.posting import post_request
from tasks import db
from tasks.followups import enqueue_follow_ups


@shared_task(bind=True, name="tasks.posting.post_batch_range", max_retries=None)
def post_batch_range(self: Any, batch_id: int, first: int, last: int) -> int:
    """Post the PENDING requests of `batch_id` with ids in [first, last], each in its own transaction."""
    sessions = db.sessions()
    posted: list[int] = []
    try:
        in_transaction(sessions, lambda s: batches.start_posting(s, batch_id))
        for intake_id in in_transaction(sessions, lambda s: batches.pending_in_range(s, batch_id, first, last)):
            result = post_request(sessions, intake_id)
            if result.newly_posted and result.sale_id is not None:
                posted.append(result.sale_id)
        in_transaction(sessions, lambda s: batches.advance(s, batch_id))
    except TransientError as exc:
        enqueue_follow_ups(posted)
        raise self.retry(exc=exc, countdown=min(60, 2 ** min(self.request.retries, 6))) from exc
    enqueue_follow_ups(posted)
    return len(posted)


def enqueue_batch(sessions: Any, batch_id: int, chunk: int = 200) -> int:
    """Send one message per range of pending ids; returns how many messages were sent."""
    sent = 0
    with sessions() as session:
        for first, last in batches.id_ranges(session, batch_id, chunk):
            post_batch_range.delay(batch_id, first, last)
            sent += 1
    if not sent:
        in_transaction(sessions, lambda s: batches.advance(s, batch_id))
    return sent
