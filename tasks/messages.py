"""THE sender: every message of the project (requests to post, ranges of a batch, follow-ups, sweep
requests) leaves through here, a chunk of CHUNK ids at most, by the task names of tasks/names.py.

Messages go through Celery's current app: in a worker, the app of workers/app.py; in a front-end,
that one too when it was imported, else Celery's default app, which reads the same celeryconfig
module (Celery's default loader). celeryconfig.py is the one place the app is configured.
Called only once what the message names has committed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from celery import chain, current_app

from domain.vocabulary import FollowUpKind
from services import batches
from services.unit_of_work import Database
from tasks import names

CHUNK = 200  # ids per message: a posting message is a second or so of work

# The follow-ups of fewer sales than FEW (a web order, a single submission) are not sent on their own:
# a drain, sent at most once every DRAIN_AFTER seconds by each process, runs every open follow-up then
# (a web order's follow-ups cost a message and four transactions; in a set of 200 they cost little).
FEW = 20
DRAIN_AFTER = 0.5
_drain_sent_at = [float("-inf")]  # this process's last drain (time.monotonic)


def send_requests(intake_ids: list[int], deferrals: int = 0, countdown: float | None = None) -> None:
    """Ask for these requests to be posted (`deferrals`: how often they were sent back already)."""
    extra = {"deferrals": deferrals} if deferrals else {}
    for chunk in _chunks(intake_ids):
        current_app.send_task(names.POST_REQUESTS, args=[chunk], kwargs=extra, countdown=countdown)


def send_batch(db: Database, batch_id: int) -> int:
    """Send the batch's PENDING requests, a message per range of CHUNK ids, then start the sweeper's
    clock for them; how many messages were sent."""
    ranges = batches.pending_ranges(db, batch_id, CHUNK)
    for first, last in ranges:
        current_app.send_task(names.POST_BATCH_RANGE, args=[batch_id, first, last])
    batches.mark_sent(db, batch_id, len(ranges))
    return len(ranges)


def send_follow_ups(
    sale_ids: list[int], kinds: Iterable[str] = tuple(FollowUpKind), countdown: float | None = None
) -> None:
    """Ask for these kinds of follow-up of these sales: every kind in one message a chunk, else a
    message a kind. A receipt shows loyalty points, so when both are asked for, the receipt is sent
    after loyalty ran (a chain)."""
    wanted = set(kinds)
    if wanted >= set(FollowUpKind) and countdown is None and 0 < len(sale_ids) < FEW:
        drain_soon()
        return
    options: dict[str, Any] = {"countdown": countdown}
    for chunk in _chunks(sale_ids):
        if wanted >= set(FollowUpKind):
            current_app.send_task(names.FOLLOW_UPS, args=[chunk], **options)
            continue
        if FollowUpKind.REORDER in wanted:
            current_app.send_task(names.REORDER, args=[chunk], **options)
        if FollowUpKind.LOYALTY in wanted and FollowUpKind.CUSTOMER_RECEIPT in wanted:
            chain(_immutable(names.LOYALTY, chunk), _immutable(names.CUSTOMER_RECEIPTS, chunk)).apply_async(**options)
        elif FollowUpKind.LOYALTY in wanted:
            current_app.send_task(names.LOYALTY, args=[chunk], **options)
        elif FollowUpKind.CUSTOMER_RECEIPT in wanted:
            current_app.send_task(names.CUSTOMER_RECEIPTS, args=[chunk], **options)


def drain_soon(now: bool = False) -> None:
    """Ask for a drain of the open follow-ups DRAIN_AFTER seconds from now, unless this process asked
    for one less than DRAIN_AFTER ago: that one runs later than anything committed since, and takes
    it too. Lost with the broker, or with a worker killed before it ran, the sweeper still finds them."""
    moment = time.monotonic()
    if not now and moment - _drain_sent_at[0] < DRAIN_AFTER:
        return
    _drain_sent_at[0] = moment
    current_app.send_task(names.DRAIN_FOLLOW_UPS, countdown=None if now else DRAIN_AFTER)


def send_follow_ups_by_kind(by_kind: dict[str, list[int]]) -> int:
    """Send follow-ups again, a message per kind and chunk (reopened, or found undone); how many sales."""
    for kind, sale_ids in by_kind.items():
        send_follow_ups(sale_ids, kinds=(kind,))
    return sum(len(sale_ids) for sale_ids in by_kind.values())


def ask_for_sweep(by: str, when_overdue: bool = False, expires: float = 60) -> None:
    """Ask a worker to sweep (`when_overdue`: only if no sweep ran for two intervals)."""
    current_app.send_task(names.SWEEP, kwargs={"by": by, "when_overdue": when_overdue}, expires=expires)


def _immutable(name: str, sale_ids: list[int]) -> Any:
    return current_app.signature(name, args=(sale_ids,), immutable=True)


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start : start + CHUNK] for start in range(0, len(ids), CHUNK)]
