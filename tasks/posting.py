"""Posting tasks: a message carries a chunk of intake ids; each request is its own transaction."""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from typing import Any

from celery import shared_task

from domain.batches import staging as batches
from domain.db import in_transaction
from domain.errors import NotFound, TransientError
from domain.posting.decision import Catalogue, post_request, record_failure
from domain.posting.intake import mark_enqueued
from tasks import db
from tasks.followups import enqueue_follow_ups

log = logging.getLogger(__name__)
MAX_DEFERRALS = 30  # a return waiting for its original; after that the sweeper takes over


@shared_task(bind=True, name="tasks.posting.post_requests", max_retries=None)
def post_requests(self: Any, intake_ids: list[int], deferrals: int = 0) -> dict[str, int]:
    """Post each request, then enqueue the follow-ups of the sales this run posted.

    Safe to run twice: a request with a recorded outcome is left as it is.
    """
    return post_chunk(self, intake_ids, deferrals)


def post_chunk(task: Any, intake_ids: list[int], deferrals: int = 0) -> dict[str, int]:
    """The body of every posting task. On a passing database fault the sales posted so far still
    get their follow-ups, and the task is retried with backoff; a return whose original sale is
    still in flight is sent again a little later."""
    sessions = db.sessions()
    posted: list[int] = []
    deferred: list[int] = []
    counts: Counter[str] = Counter()
    catalogue = Catalogue()
    try:
        for intake_id in intake_ids:
            try:
                result = post_request(sessions, intake_id, catalogue)
            except NotFound:
                counts["MISSING"] += 1
                continue
            except TransientError:
                raise
            except Exception as exc:  # one poisoned request must not hold back the rest of the chunk
                log.exception("posting request %s failed unexpectedly", intake_id)
                result = record_failure(sessions, intake_id, exc)
            counts[result.outcome] += 1
            if result.newly_posted and result.sale_id is not None:
                posted.append(result.sale_id)
            elif result.outcome == "PENDING":
                deferred.append(result.intake_id)
    except TransientError as exc:
        raise task.retry(exc=exc, countdown=min(60, 2 ** min(task.request.retries, 6))) from exc
    finally:
        enqueue_follow_ups(posted)  # whatever happened to the rest, these sales committed
    if deferred and deferrals < MAX_DEFERRALS:
        in_transaction(sessions, partial(mark_enqueued, intake_ids=deferred))  # the sweeper leaves them be
        post_requests.apply_async((deferred,), {"deferrals": deferrals + 1}, countdown=min(30, 1 + deferrals))
    db.advance_batches(in_transaction(sessions, partial(batches.batches_of_requests, intake_ids=intake_ids)))
    return dict(counts)
