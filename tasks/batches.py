"""Batch tasks: a message names a range of one batch's intake ids (a claim check of ~200 sales)."""

from __future__ import annotations

from celery import shared_task

from services.batches import start_range
from tasks import names
from tasks.common import RETRY_PASSING_FAULTS, database
from tasks.posting import post_and_send


@shared_task(name=names.POST_BATCH_RANGE, **RETRY_PASSING_FAULTS)
def post_batch_range(batch_id: int, first: int, last: int) -> dict[str, int]:
    """Post the PENDING requests of `batch_id` with ids in [first, last], each in its own transaction."""
    intake_ids = start_range(database(), batch_id, first, last)
    return post_and_send(intake_ids) if intake_ids else {}
