"""Posting a batch file: stage it durably (or resume the unfinished batch of the same file), then
enqueue its chunks. Shared by `tillpost post` and `tillpost demo`."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from domain.batches import staging as batches
from frontends.batchfiles import file_digest, read_batch
from frontends.outages import NotSent, ServiceUnavailable, service_behind
from runtime import settings


def post_file(sessions: sessionmaker[Session], path: Path) -> int:
    """Returns the batch id. Every request is committed in PostgreSQL before the first message is sent.

    A file without a single request raises batchfiles.NoRequests, and nothing is recorded."""
    from tasks.batches import enqueue_batch
    from workers.app import app  # noqa: F401  (the configured Celery app sends the messages)

    digest = file_digest(path)
    with sessions.begin() as session:
        batch_id = batches.unfinished_batch(session, digest)
    if batch_id is None:
        with sessions.begin() as session:
            batch_id = batches.stage(session, str(path), digest, read_batch(path))
    else:
        print(f"resuming unfinished batch {batch_id} of the same file", file=sys.stderr)
    try:
        enqueue_batch(sessions, batch_id)
    except Exception as exc:
        if service_behind(exc) != "broker":
            raise
        cause = ServiceUnavailable.of("broker", settings.load())
        raise NotSent(f"batch {batch_id} of {path}", cause) from None
    return batch_id
