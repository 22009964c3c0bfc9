"""Follow-up tasks, each over a set of sale ids, each idempotent (keyed by sale: domain/followups/).
The bounded failures of a follow-up are counted by services.followups; a task only acts on them."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from domain.vocabulary import FollowUpKind
from services.followups import drain, run_every_follow_up, run_follow_up
from tasks import messages, names
from tasks.common import RETRY_PASSING_FAULTS, database


def run_and_act(task: Any, kind: FollowUpKind, sale_ids: list[int]) -> int:
    """Run the follow-up; a failed set is sent again sale by sale, a sale's counted failure is tried
    again by this task after the backoff the use case says."""
    run = run_follow_up(database(), kind, sale_ids)
    for sale_id in run.one_by_one:
        messages.send_follow_ups([sale_id], kinds=(kind,))
    if run.try_again_in is not None:
        raise task.retry(exc=run.error, countdown=run.try_again_in)
    return run.done


@shared_task(bind=True, name=names.REORDER, **RETRY_PASSING_FAULTS)
def reorder(self: Any, sale_ids: list[int]) -> int:
    return run_and_act(self, FollowUpKind.REORDER, sale_ids)


@shared_task(bind=True, name=names.LOYALTY, **RETRY_PASSING_FAULTS)
def loyalty(self: Any, sale_ids: list[int]) -> int:
    return run_and_act(self, FollowUpKind.LOYALTY, sale_ids)


@shared_task(bind=True, name=names.CUSTOMER_RECEIPTS, **RETRY_PASSING_FAULTS)
def receipts(self: Any, sale_ids: list[int]) -> int:
    return run_and_act(self, FollowUpKind.CUSTOMER_RECEIPT, sale_ids)


@shared_task(name=names.FOLLOW_UPS, **RETRY_PASSING_FAULTS)
def every_follow_up(sale_ids: list[int]) -> int:
    """Every follow-up of newly posted sales in one message (one message a set, not three); what one
    kind could not finish goes on in messages of its kind."""
    done, handovers = run_every_follow_up(database(), sale_ids)
    for handover in handovers:
        messages.send_follow_ups(handover.sale_ids, kinds=handover.kinds, countdown=handover.countdown)
    return done


@shared_task(name=names.DRAIN_FOLLOW_UPS, **RETRY_PASSING_FAULTS)
def drain_follow_ups() -> int:
    """The follow-ups of sales posted a few at a time, run together in sets (tasks.messages.drain_soon)."""
    done, handovers, more = drain(database(), messages.CHUNK)
    for handover in handovers:
        messages.send_follow_ups(handover.sale_ids, kinds=handover.kinds, countdown=handover.countdown)
    if more:
        messages.drain_soon(now=True)
    return done
