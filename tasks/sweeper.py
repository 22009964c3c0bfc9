"""The sweeper task: find what is undone in PostgreSQL (services.sweeping) and send it again.
Not retried on a passing fault: the next sweep (beat's, or a worker's own) is its retry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task

from runtime import settings
from services import sweeping
from tasks import messages, names
from tasks.common import database


def queue_length(app: Any, queue: str) -> int:
    """Messages waiting in `queue`; 0 when the broker does not know the queue (e.g. Redis was flushed)."""
    with app.connection_for_read() as conn:
        try:
            return int(conn.default_channel.queue_declare(queue=queue, passive=True).message_count)
        except conn.channel_errors:
            return 0


@shared_task(bind=True, name=names.SWEEP)
def sweep(
    self: Any, stale_after_seconds: float | None = None, by: str = "asked", when_overdue: bool = False
) -> dict[str, Any]:
    """Send again the stale PENDING requests and open follow-ups (see services.sweeping.sweep)."""
    config = settings.load()
    stale_after = timedelta(seconds=config.stale_after if stale_after_seconds is None else stale_after_seconds)
    has_backlog = lambda queue: queue_length(self.app, queue) > 0  # noqa: E731
    found = sweeping.sweep(database(), stale_after, config.sweep_interval, has_backlog, by, when_overdue)
    messages.send_requests(found.requests)
    messages.send_follow_ups_by_kind(found.follow_ups)
    return found.summary()
