"""Posting use cases: one request (`post_request`), a chunk of them (`post_chunk`, what a posting
message asks for). Each request is its own transaction; what must be sent once they committed is
returned, never sent from here."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import partial

from sqlalchemy import Connection

from domain.batches.states import advance_all
from domain.errors import NotFound, TransientError
from domain.posting.catalogue import Catalogue
from domain.posting.decision import Decision, decide, decide_ahead, internal_error, read_ahead, record_rejection
from domain.posting.intake import mark_requests_sent
from domain.posting.sale import PostedMeanwhile, RejectedAfterWriting
from domain.vocabulary import Outcome
from services.unit_of_work import Database, is_transient

log = logging.getLogger(__name__)
MAX_DEFERRALS = 30  # a return waiting for its original sale; after that the sweeper takes over


def post_request(db: Database, intake_id: int, catalogue: Catalogue | None = None) -> Decision:
    """Post one received request. Safe to call twice or in parallel (see domain/posting/decision.py).

    A rule failing after the sale began to be written rolls its transaction back, and the rejection
    is recorded in a second one; a submission of the same request_id committing first is seen by
    deciding again.
    """
    for _ in range(3):
        try:
            return db.transaction(partial(decide, intake_id=intake_id, catalogue=catalogue))
        except RejectedAfterWriting as undo:
            return db.transaction(partial(record_rejection, intake_id=intake_id, rejection=undo.rejection))
        except PostedMeanwhile:
            continue
    raise AssertionError(f"request {intake_id}: its sale key kept changing under it")


def record_internal_error(db: Database, intake_id: int, error: BaseException) -> Decision:
    """A request whose posting raised something unforeseen ends REJECTED / INTERNAL_ERROR."""
    return db.transaction(partial(record_rejection, intake_id=intake_id, rejection=internal_error(error)))


@dataclass
class ChunkPosted:
    """What posting a chunk did, and what to send now that it committed."""

    counts: Counter[str] = field(default_factory=Counter)
    new_sales: list[int] = field(default_factory=list)  # their follow-ups are to be sent
    waiting: list[int] = field(default_factory=list)  # returns whose sale is still in flight
    batches: set[int] = field(default_factory=set)  # the batches of the chunk's requests
    send_again: list[int] = field(default_factory=list)  # ... to send again, after send_again_in seconds
    send_again_in: float = 0.0
    interrupted: TransientError | None = None  # the rest of the chunk is to be tried again later


def post_chunk(db: Database, intake_ids: list[int], deferrals: int = 0) -> ChunkPosted:
    """Post each request of a chunk, then let its batches move on. Safe to run twice.

    A passing database fault stops the chunk with `interrupted` set: the sales posted so far still
    get their follow-ups, and the caller tries the chunk again (each request decided is left as is).
    A return whose original sale is still in flight is to be sent again a little later, at most
    MAX_DEFERRALS times (then the sweeper sends it).
    """
    posted = ChunkPosted()
    try:
        _post_each(db, intake_ids, posted)
        if posted.waiting and deferrals < MAX_DEFERRALS:
            db.transaction(partial(mark_requests_sent, intake_ids=posted.waiting))  # the sweeper leaves them be
            posted.send_again, posted.send_again_in = posted.waiting, min(30.0, 1.0 + deferrals)
        if posted.batches:  # a web order or a single submission has none: no transaction to open
            db.transaction(lambda session: advance_all(session, posted.batches))
    except TransientError as exc:
        posted.interrupted = exc
    return posted


def _post_each(db: Database, intake_ids: list[int], posted: ChunkPosted) -> None:
    catalogue = Catalogue()  # the chunk's products, read at once (one request reads its own)
    rest = intake_ids
    if len(intake_ids) > 1:
        rest = db.statements(partial(_post_plain_sales, intake_ids=intake_ids, catalogue=catalogue, posted=posted))
    for intake_id in rest:
        try:
            decision = post_request(db, intake_id, catalogue)
        except NotFound:
            posted.counts["MISSING"] += 1
            continue
        except TransientError:
            raise
        except Exception as exc:  # one poisoned request must not hold back the rest of the chunk
            log.exception("posting request %s failed unexpectedly", intake_id)
            decision = record_internal_error(db, intake_id, exc)
        _count(posted, decision)


def _post_plain_sales(conn: Connection, intake_ids: list[int], catalogue: Catalogue, posted: ChunkPosted) -> list[int]:
    """Post the chunk's plain sales, each in one statement that is its own transaction (autocommit),
    from the chunk's requests and products read at once; return the requests left to decide one
    transaction each (anything but a plain sale, and the rest of the chunk after a passing fault)."""
    catalogue.read_ahead(conn, intake_ids)
    rows = read_ahead(conn, intake_ids)
    rest: list[int] = []
    for n, intake_id in enumerate(intake_ids):
        row = rows.get(intake_id)
        try:
            decision = None if row is None else decide_ahead(conn, row, catalogue)
        except Exception as exc:
            if is_transient(exc):  # the connection may be gone: decide the rest (this one too) one by one
                return rest + intake_ids[n:]
            conn.rollback()  # nothing to undo (autocommit); deciding it in a transaction records what is wrong
            decision = None
        if decision is None:
            rest.append(intake_id)
        else:
            _count(posted, decision)
    return rest


def _count(posted: ChunkPosted, decision: Decision) -> None:
    posted.counts[decision.outcome] += 1
    if decision.batch_id is not None:
        posted.batches.add(decision.batch_id)
    if decision.newly_posted and decision.sale_id is not None:
        posted.new_sales.append(decision.sale_id)
    elif decision.outcome == Outcome.PENDING:
        posted.waiting.append(decision.intake_id)
