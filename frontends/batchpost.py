"""Batch actions that send messages: post a file (stage it durably, or resume the unfinished batch of
the same file, then send its ranges), replay a batch's rejected requests, retry failed follow-ups.
Shared by `tillpost post`, `replay`, `followups retry` and `tillpost demo`. Each commits first and
sends after; a broker that cannot be reached is NotSent (what was committed is safe: the sweeper
sends it)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

from frontends.batchfiles import file_digest, read_batch
from frontends.outages import sending
from services import batches
from services.unit_of_work import Database
from tasks import messages


def post_file(db: Database, path: Path) -> int:
    """Returns the batch id. Every request is committed in PostgreSQL before the first message is sent.

    A file without a single request raises batchfiles.NoRequests, and nothing is recorded."""
    staged = batches.stage_batch(db, str(path), file_digest(path), partial(read_batch, path))
    if staged.resumed:
        print(f"resuming unfinished batch {staged.batch_id} of the same file", file=sys.stderr)
    with sending(f"batch {staged.batch_id} of {path}"):
        messages.send_batch(db, staged.batch_id)
    return staged.batch_id


def replay(db: Database, batch_id: int, reason: str | None = None) -> int:
    """The batch's REJECTED requests (of `reason`, or all) posted again; how many were reopened."""
    reopened = batches.replay(db, batch_id, reason)
    with sending(f"batch {batch_id}"):
        messages.send_batch(db, batch_id)
    return reopened


def retry_follow_ups(db: Database, batch_id: int | None = None) -> int:
    """The follow-ups that failed for good (of one batch, or all) reopened and sent; how many sales."""
    reopened = batches.retry_failed_follow_ups(db, batch_id)
    with sending("the reopened follow-ups"):
        return messages.send_follow_ups_by_kind(reopened)
