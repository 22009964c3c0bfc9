"""Posting tasks: a message carries a chunk of intake ids; each request is its own transaction."""

from __future__ import annotations

from celery import shared_task

from services.posting import post_chunk
from tasks import messages, names
from tasks.common import RETRY_PASSING_FAULTS, database


@shared_task(name=names.POST_REQUESTS, **RETRY_PASSING_FAULTS)
def post_requests(intake_ids: list[int], deferrals: int = 0) -> dict[str, int]:
    """Post each request, then send the follow-ups of the sales this run posted. Safe to run twice."""
    return post_and_send(intake_ids, deferrals)


def post_and_send(intake_ids: list[int], deferrals: int = 0) -> dict[str, int]:
    """The body of every posting task. The sales posted before a passing fault still get their
    follow-ups; then the fault is raised, for Celery to retry the chunk."""
    posted = post_chunk(database(), intake_ids, deferrals)
    messages.send_follow_ups(posted.new_sales)
    messages.send_requests(posted.send_again, deferrals=deferrals + 1, countdown=posted.send_again_in)
    if posted.interrupted is not None:
        raise posted.interrupted
    return dict(posted.counts)
