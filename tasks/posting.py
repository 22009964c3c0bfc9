"""Posting tasks: a message carries a chunk of intake ids; each request is its own transaction."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from domain import batches
from domain.db import in_transaction
from domain.errors import NotFound, TransientError
from domain.posting import post_request
from tasks import db
from tasks.followups import enqueue_follow_ups


@shared_task(bind=True, name="tasks.posting.post_requests", max_retries=None)
def post_requests(self: Any, intake_ids: list[int]) -> dict[str, int]:
    """Post each request, then enqueue the follow-ups of the sales this run posted.

    Safe to run twice: a request with a recorded outcome is left as it is. On a passing database
    fault the sales posted so far still get their follow-ups, and the chunk is retried with backoff.
    """
    posted: list[int] = []
    counts: dict[str, int] = {}
    try:
        for intake_id in intake_ids:
            try:
                result = post_request(db.sessions(), intake_id)
            except NotFound:
                counts["MISSING"] = counts.get("MISSING", 0) + 1
                continue
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            if result.newly_posted and result.sale_id is not None:
                posted.append(result.sale_id)
    except TransientError as exc:
        enqueue_follow_ups(posted)
        raise self.retry(exc=exc, countdown=min(60, 2 ** min(self.request.retries, 6))) from exc
    enqueue_follow_ups(posted)
    sessions = db.sessions()
    for batch_id in in_transaction(sessions, lambda s: batches.batches_of_requests(s, intake_ids)):
        in_transaction(sessions, lambda s, b=batch_id: batches.advance(s, b))
    return counts
