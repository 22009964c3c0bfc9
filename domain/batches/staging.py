"""End-of-day batches: staged durably first (COPY), cut into ranges of pending requests to send,
and replayed. How a batch moves from state to state: domain/batches/states.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from domain.batches.entries import Entry, NoRequests
from domain.db import dumps
from domain.errors import NotFound
from domain.posting.intake import request_id_of
from domain.posting.request import fingerprint_of
from domain.tables import Batch, SaleRequestRow
from domain.vocabulary import BatchState, Outcome, Reason

COPY_SQL = (
    "COPY sale_requests (request_id, batch_id, line_no, payload, fingerprint, outcome, reason, message, details) "
    "FROM STDIN"
)


def unfinished_batch(session: Session, digest: str) -> int | None:
    """A batch of the same file that has not finished posting: posting the file again resumes it."""
    return session.scalar(
        select(Batch.id)
        .where(Batch.digest == digest, Batch.state.in_((BatchState.RECEIVED, BatchState.POSTING)))
        .order_by(Batch.id)
    )


def stage(session: Session, source: str, digest: str, entries: Iterable[Entry]) -> int:
    """Record the batch and every request in it with one COPY; returns the batch id.

    An entry that could not be read is recorded at once as REJECTED / INVALID with its line number,
    and so is every run of rows of a CSV request whose rows are not adjacent. A file without a single
    request is no batch: NoRequests, and nothing is recorded.
    """
    batch_id = session.scalar(
        text("INSERT INTO batches (source, digest) VALUES (:source, :digest) RETURNING id"),
        {"source": source, "digest": digest},
    )
    assert batch_id is not None
    raw = session.connection().connection.driver_connection
    assert raw is not None, "staging needs a live psycopg connection for COPY"
    count = 0
    rows_of_requests = False
    with raw.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
        for entry in entries:
            copy.write_row(_copy_row(batch_id, entry))
            count += 1
            rows_of_requests = rows_of_requests or entry.rows is not None
    if count == 0:
        raise NoRequests(source)
    if rows_of_requests:
        _reject_split_requests(session, batch_id)
    session.execute(update(Batch).where(Batch.id == batch_id).values(requests=count))
    return int(batch_id)


def _copy_row(batch_id: int, entry: Entry) -> tuple[Any, ...]:
    """A readable entry is PENDING; one that could not be read is decided here: REJECTED / INVALID.
    A CSV request of several rows keeps the line its rows end on (`details.last_line`)."""
    decided = (
        (Outcome.PENDING, None, None) if entry.problem is None else (Outcome.REJECTED, Reason.INVALID, entry.problem)
    )
    payload = entry.payload
    rows = dumps({"last_line": entry.rows[1]}) if entry.rows and entry.rows[1] > entry.rows[0] else None
    return (request_id_of(payload), batch_id, entry.line_no, dumps(payload), fingerprint_of(payload), *decided, rows)


# In a CSV the rows of one request are adjacent (read_csv groups them as they come), so a request_id
# staged more than once from one CSV is a request split by other rows: each run alone would be a sale
# with only some of its lines. Found in SQL after the COPY, so the file is never held in memory.
# Never processed, so never replayed either (reopen_rejected).
SPLIT_REQUESTS = text(
    """
    WITH runs AS (
        SELECT request_id,
               array_agg(CASE WHEN (details->>'last_line')::int > line_no
                              THEN 'lines ' || line_no || '-' || (details->>'last_line')
                              ELSE 'line ' || line_no END ORDER BY line_no) AS spans
        FROM sale_requests
        WHERE batch_id = :batch AND request_id <> ''
        GROUP BY request_id
        HAVING count(*) > 1
    )
    UPDATE sale_requests r
    SET outcome = 'REJECTED', reason = 'INVALID',
        message = 'line ' || r.line_no || ': request_id ' || runs.request_id || ' appears on ' || runs.spans[1]
                  || ' and again on ' || array_to_string(runs.spans[2:], ', ')
                  || '; the rows of one request must be adjacent' || coalesce('; ' || r.message, '')
    FROM runs
    WHERE r.batch_id = :batch AND r.request_id = runs.request_id
    """
)


def _reject_split_requests(session: Session, batch_id: int) -> None:
    session.execute(SPLIT_REQUESTS, {"batch": batch_id})


def id_ranges(session: Session, batch_id: int, size: int) -> Iterator[tuple[int, int]]:
    """Cut the batch's PENDING intake ids into ranges of `size` rows (streamed, memory flat)."""
    ids = session.execute(
        select(SaleRequestRow.id)
        .where(SaleRequestRow.batch_id == batch_id, SaleRequestRow.outcome == Outcome.PENDING)
        .order_by(SaleRequestRow.id)
        .execution_options(yield_per=10_000)
    ).scalars()
    first = last = None
    n = 0
    for intake_id in ids:
        if first is None:
            first = intake_id
        last = intake_id
        n += 1
        if n == size:
            yield first, last
            first, n = None, 0
    if first is not None and last is not None:
        yield first, last


def pending_in_range(session: Session, batch_id: int, first: int, last: int) -> list[int]:
    """The batch's requests still PENDING among intake ids first..last (a posting message's range).

    Read by the range alone, on the primary key: a chunk's rows, whatever the plan. With the batch
    and outcome in the statement, a generic plan made on the statistics of before the batch's COPY
    took the (batch, outcome) index instead: every request of the batch still PENDING read for each
    chunk (3 ms a chunk at 20,000 sales, growing with the batch)."""
    rows = session.execute(requests_in_range(first, last))
    return [id_ for id_, batch, outcome in rows if batch == batch_id and outcome == Outcome.PENDING]


def requests_in_range(first: int, last: int) -> Select[int, int | None, str]:
    return (
        select(SaleRequestRow.id, SaleRequestRow.batch_id, SaleRequestRow.outcome)
        .where(SaleRequestRow.id.between(first, last))
        .order_by(SaleRequestRow.id)
    )


def mark_batch_sent(session: Session, batch_id: int) -> None:
    """The batch's requests were just sent: the sweeper's clock starts now, not at staging.
    One row, not one per request: a mass update would fight the workers for the intake rows."""
    session.execute(update(Batch).where(Batch.id == batch_id).values(enqueued_at=func.now()))


def reopen_rejected(session: Session, batch_id: int, reason: str | None = None) -> int:
    """Replay: the batch's REJECTED requests (of one reason, or all) become PENDING again.

    Their earlier rejection is kept in `details.previous`, so the history is not lost. A line that
    could not even be read (rejected while staging, so never processed) is not a request: posting it
    would only replace why it was unreadable ("not valid JSON") with a list of missing fields.
    """
    if session.get(Batch, batch_id) is None:
        raise NotFound("batch", str(batch_id))
    query = update(SaleRequestRow).where(
        SaleRequestRow.batch_id == batch_id,
        SaleRequestRow.outcome == Outcome.REJECTED,
        SaleRequestRow.processed_at.is_not(None),
    )
    if reason is not None:
        query = query.where(SaleRequestRow.reason == reason)
    details = func.jsonb_build_object("previous", _history_with_this_rejection())
    result = session.execute(
        query.values(
            outcome=Outcome.PENDING,
            reason=None,
            message=None,
            processed_at=None,
            enqueued_at=func.now(),
            details=details,
        )
    )
    reopened = int(result.rowcount)  # type: ignore[attr-defined]
    if reopened:
        session.execute(
            update(Batch)
            .where(Batch.id == batch_id)
            .values(state=BatchState.POSTING, posted_at=None, done_at=None, reconciliation=None, reconciled_at=None)
        )
    return reopened


def _history_with_this_rejection() -> Any:
    """`details.previous` with the current rejection (reason, message, when, details) appended."""
    rejection = func.jsonb_build_object(
        "reason",
        SaleRequestRow.reason,
        "message",
        SaleRequestRow.message,
        "at",
        SaleRequestRow.processed_at,
        "details",
        SaleRequestRow.details.op("-")("previous"),
    )
    earlier = func.coalesce(SaleRequestRow.details["previous"], text("'[]'::jsonb"))
    return earlier.op("||")(func.jsonb_build_array(rejection))
