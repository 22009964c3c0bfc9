"""Running a follow-up (reorder, loyalty, customer receipt) over a set of sales, with the bookkeeping
of failures that are not passing faults: a set that fails is split into single sales, and a single
sale's failure is counted, MAX_ATTEMPTS times, then recorded FAILED (its batch then says ATTENTION).
A passing fault (TransientError) is never counted: it is raised, for the caller to try again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.orm import Session

from domain.batches.states import advance_all, batches_of_sales
from domain.errors import TransientError, describe
from domain.followups import failures, outbox
from domain.vocabulary import FollowUpKind
from services.unit_of_work import Database

log = logging.getLogger(__name__)

# A follow-up of one sale failing with an error that is not a passing fault is tried this many
# times, FIRST_BACKOFF seconds apart and doubling up to MAX_BACKOFF (1, 2, 4, 8 s: about 15 s in
# all), then recorded FAILED.
MAX_ATTEMPTS = 5
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0

RUNS: dict[FollowUpKind, Callable[[Session, list[int]], int]] = {
    FollowUpKind.REORDER: outbox.run_reorder,
    FollowUpKind.LOYALTY: outbox.run_loyalty,
    FollowUpKind.CUSTOMER_RECEIPT: outbox.run_receipts,
}


@dataclass
class FollowUpRun:
    """What running a follow-up did, and what the caller is to do about it."""

    done: int = 0
    one_by_one: list[int] = field(default_factory=list)  # the set failed: send each sale again on its own
    try_again_in: float | None = None  # this sale's failure was counted: run it again after this many seconds
    error: Exception | None = None  # ... the failure


def run_follow_up(db: Database, kind: FollowUpKind, sale_ids: list[int], advance: bool = True) -> FollowUpRun:
    """Run one follow-up over a set of sales in one transaction, then let their batches move on
    (POSTED -> DONE; `advance=False` leaves that to the caller). Idempotent: a sale whose follow-up
    already ran is skipped."""
    try:
        done = db.transaction(lambda session: RUNS[kind](session, sale_ids))
    except TransientError:
        raise
    except Exception as exc:
        if len(sale_ids) == 1:
            return _count_failure(db, kind, sale_ids[0], exc)
        log.exception("%s failed for a set of %d sales; running them one by one", kind, len(sale_ids))
        return FollowUpRun(one_by_one=list(sale_ids))  # so one bad sale cannot hold back the rest of its set
    if advance:
        _advance_batches(db, sale_ids)
    return FollowUpRun(done=done)


# Every follow-up of a posted sale, in the order they run in one message. A receipt shows the points
# of its sale, so receipts come after loyalty and are handed over with it.
IN_ORDER = (FollowUpKind.REORDER, FollowUpKind.LOYALTY, FollowUpKind.CUSTOMER_RECEIPT)
NEEDS = {FollowUpKind.CUSTOMER_RECEIPT: FollowUpKind.LOYALTY}


@dataclass(frozen=True)
class Handover:
    """Follow-ups left to messages of their own kind: these kinds of these sales, after `countdown`."""

    kinds: tuple[FollowUpKind, ...]
    sale_ids: list[int]
    countdown: float | None = None


def run_every_follow_up(db: Database, sale_ids: list[int]) -> tuple[int, list[Handover]]:
    """Every follow-up of a set of sales, each kind in its own transaction (IN_ORDER), then their
    batches move on once. A kind that fails for the set, or a counted failure of a single sale, is
    handed over, with the kinds that need it, to messages of their kind (whose retries and one-by-one
    runs are those of `run_follow_up`); the other kinds go on. How many ran, and the handovers."""
    done, handovers, handed = 0, list[Handover](), set[FollowUpKind]()
    for kind in IN_ORDER:
        if kind in handed:
            continue
        run = run_follow_up(db, kind, sale_ids, advance=False)
        done += run.done
        if run.one_by_one or run.try_again_in is not None:
            kinds = (kind, *(later for later, needed in NEEDS.items() if needed == kind))
            handed.update(kinds)
            if run.one_by_one:
                handovers += [Handover(kinds, [sale_id]) for sale_id in run.one_by_one]
            else:
                handovers.append(Handover(kinds, list(sale_ids), run.try_again_in))
    _advance_batches(db, sale_ids)
    return done, handovers


def _count_failure(db: Database, kind: FollowUpKind, sale_id: int, exc: Exception) -> FollowUpRun:
    """One more failed attempt of this sale's follow-up: try again later, or at the limit leave it
    FAILED with its error and let its batch say so (ATTENTION)."""
    error = describe(exc)
    attempt = db.transaction(
        partial(failures.record_failure, kind=kind, sale_id=sale_id, error=error, limit=MAX_ATTEMPTS)
    )
    if attempt is None:
        return FollowUpRun()  # another run finished it meanwhile
    if not attempt.failed:
        log.warning("%s of sale %d failed (attempt %d of %d): %s", kind, sale_id, attempt.attempts, MAX_ATTEMPTS, error)
        backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempt.attempts - 1))
        return FollowUpRun(try_again_in=backoff, error=exc)
    log.error("%s of sale %d FAILED after %d attempts: %s", kind, sale_id, attempt.attempts, error, exc_info=exc)
    _advance_batches(db, [sale_id])
    return FollowUpRun()


def _advance_batches(db: Database, sale_ids: list[int]) -> None:
    db.transaction(lambda session: advance_all(session, batches_of_sales(session, sale_ids)))


def drain(db: Database, limit: int) -> tuple[int, list[Handover], bool]:
    """Every follow-up of up to `limit` sales whose follow-ups are open and untried, as one set (the
    follow-ups of sales posted one at a time, such as web orders, run together): how many ran, the
    handovers, and whether more may be waiting."""
    sale_ids = db.read(partial(outbox.never_tried, limit=limit))
    if not sale_ids:
        return 0, [], False
    done, handovers = run_every_follow_up(db, sorted(sale_ids))
    return done, handovers, len(sale_ids) == limit
