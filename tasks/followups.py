"""Follow-up tasks, each over a set of sale ids, each idempotent (keyed by sale in domain.followups)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from celery import chain, shared_task

from domain import batches, followups
from domain.db import in_transaction
from domain.errors import TransientError
from tasks import db

log = logging.getLogger(__name__)


def _run(task: Any, work: Callable[..., int], sale_ids: list[int]) -> int:
    """Run one follow-up over a set of sales, then let their batches move on (POSTED -> DONE)."""
    sessions = db.sessions()
    try:
        done = in_transaction(sessions, partial(work, sale_ids=sale_ids))
        db.advance_batches(in_transaction(sessions, partial(batches.batches_of_sales, sale_ids=sale_ids)))
    except TransientError as exc:
        raise task.retry(exc=exc, countdown=min(60, 2 ** min(task.request.retries, 6))) from exc
    except Exception:
        if len(sale_ids) == 1:
            raise  # this sale's follow-up stays open: visible, and swept again later
        log.exception("%s failed for a set of %d sales; running them one by one", task.name, len(sale_ids))
        for sale_id in sale_ids:  # so one bad sale cannot hold back the rest of its set
            task.apply_async(([sale_id],))
        return 0
    return done


@shared_task(bind=True, name="tasks.followups.reorder", max_retries=None)
def reorder(self: Any, sale_ids: list[int]) -> int:
    return _run(self, followups.run_reorder, sale_ids)


@shared_task(bind=True, name="tasks.followups.loyalty", max_retries=None)
def loyalty(self: Any, sale_ids: list[int]) -> int:
    return _run(self, followups.run_loyalty, sale_ids)


@shared_task(bind=True, name="tasks.followups.receipts", max_retries=None)
def receipts(self: Any, sale_ids: list[int]) -> int:
    return _run(self, followups.run_receipts, sale_ids)


def enqueue_follow_ups(sale_ids: list[int], kinds: tuple[str, ...] = ("REORDER", "LOYALTY", "RECEIPT")) -> None:
    """Called only after the sales committed. A receipt shows loyalty points, so it runs after loyalty."""
    if not sale_ids:
        return
    if "REORDER" in kinds:
        reorder.delay(sale_ids)
    if "LOYALTY" in kinds and "RECEIPT" in kinds:
        chain(loyalty.si(sale_ids), receipts.si(sale_ids)).delay()
    elif "LOYALTY" in kinds:
        loyalty.delay(sale_ids)
    elif "RECEIPT" in kinds:
        receipts.delay(sale_ids)
