"""Follow-up tasks, each over a set of sale ids, each idempotent (keyed by sale in domain.followups)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

from celery import chain, shared_task

from domain.batches import staging as batches
from domain.db import in_transaction
from domain.errors import TransientError
from domain.followups import failures as followup_failures
from domain.followups import outbox as followups
from tasks import db

log = logging.getLogger(__name__)

# A follow-up of one sale failing with an error that is not a passing fault is tried this many
# times, FIRST_BACKOFF seconds apart and doubling up to MAX_BACKOFF (1, 2, 4, 8 s: about 15 s in
# all), then recorded FAILED. A passing fault (TransientError) is retried until it passes, uncounted.
MAX_ATTEMPTS = 5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
CHUNK = 200


def _run(task: Any, kind: str, work: Callable[..., int], sale_ids: list[int]) -> int:
    """Run one follow-up over a set of sales, then let their batches move on (POSTED -> DONE).
    A set that fails is split into single sales; a single sale's failure is counted (_count_failure)."""
    try:
        done = in_transaction(db.sessions(), partial(work, sale_ids=sale_ids))
    except TransientError as exc:
        _retry_transient(task, exc)
    except Exception as exc:
        if len(sale_ids) == 1:
            return _count_failure(task, kind, sale_ids[0], exc)
        log.exception("%s failed for a set of %d sales; running them one by one", task.name, len(sale_ids))
        for sale_id in sale_ids:  # so one bad sale cannot hold back the rest of its set
            task.apply_async(([sale_id],))
        return 0
    _advance(task, sale_ids)
    return done


def _count_failure(task: Any, kind: str, sale_id: int, exc: Exception) -> int:
    """One more failed attempt of this sale's follow-up: try again later, or at the limit leave it
    FAILED with its error and let its batch say so (ATTENTION)."""
    error = followup_failures.describe(exc)
    record = partial(followup_failures.record_failure, kind=kind, sale_id=sale_id, error=error, limit=MAX_ATTEMPTS)
    try:
        attempt = in_transaction(db.sessions(), record)
    except TransientError as transient:
        _retry_transient(task, transient)
    if attempt is None:
        return 0  # another run finished it meanwhile
    if not attempt.failed:
        log.warning("%s of sale %d failed (attempt %d of %d): %s", kind, sale_id, attempt.attempts, MAX_ATTEMPTS, error)
        raise task.retry(exc=exc, countdown=min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt.attempts - 1)))
    log.error("%s of sale %d FAILED after %d attempts: %s", kind, sale_id, attempt.attempts, error, exc_info=exc)
    _advance(task, [sale_id])
    return 0


def _advance(task: Any, sale_ids: list[int]) -> None:
    try:
        db.advance_batches(in_transaction(db.sessions(), partial(batches.batches_of_sales, sale_ids=sale_ids)))
    except TransientError as exc:
        _retry_transient(task, exc)


def _retry_transient(task: Any, exc: TransientError) -> NoReturn:
    """A passing fault: try again with backoff, for as long as it takes; never counted as an attempt."""
    raise task.retry(exc=exc, countdown=min(MAX_BACKOFF, 2 ** min(task.request.retries, 6))) from exc


@shared_task(bind=True, name="tasks.followups.reorder", max_retries=None)
def reorder(self: Any, sale_ids: list[int]) -> int:
    return _run(self, "REORDER", followups.run_reorder, sale_ids)


@shared_task(bind=True, name="tasks.followups.loyalty", max_retries=None)
def loyalty(self: Any, sale_ids: list[int]) -> int:
    return _run(self, "LOYALTY", followups.run_loyalty, sale_ids)


@shared_task(bind=True, name="tasks.followups.receipts", max_retries=None)
def receipts(self: Any, sale_ids: list[int]) -> int:
    return _run(self, "RECEIPT", followups.run_receipts, sale_ids)


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


def requeue(by_kind: dict[str, list[int]]) -> int:
    """Send follow-ups again, a message per kind and CHUNK sales (after their rows committed open)."""
    for kind, sale_ids in by_kind.items():
        for start in range(0, len(sale_ids), CHUNK):
            enqueue_follow_ups(sale_ids[start : start + CHUNK], kinds=(kind,))
    return sum(len(sale_ids) for sale_ids in by_kind.values())
