"""Recovery as the command line shows it: waiting on the workers without hanging on them
(`post --wait`, `submit --wait`), and the sweeper's last run (`batch show`, `check`).

While something is still undone, the watch asks the workers who consumes the posting queue (a
Celery control broadcast with a short timeout) and says at once when nobody does, and how to start
a worker. When progress stalls (nothing new for the stale limit) it asks for a sweep, which sends
again from PostgreSQL whatever was lost in Redis; it asks again after each further stall.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from typing import Any

from runtime import settings

NO_WORKER = (
    "no worker is consuming the posting queue: start one with `tillpost worker` "
    "(or everything with `tillpost up`); still waiting"
)
WORKER_BACK = "a worker is consuming the posting queue now"


def notice(message: str) -> None:
    """A line on stderr, below a progress bar being redrawn there."""
    print(("\n" if sys.stderr.isatty() else "") + message, file=sys.stderr, flush=True)


class Watch:
    def __init__(self, say: Callable[[str], object] = notice, check_every: float = 10.0) -> None:
        self.say = say
        self.stall_after = settings.load().stale_after
        self.check_every = check_every
        self.seen: Hashable = None
        self.progressed_at = self.checked_at = time.monotonic()
        self.workers: bool | None = None

    def __call__(self, progress: Hashable) -> None:
        """Called on every poll while something is undone, with anything that changes as work is done."""
        now = time.monotonic()
        if progress != self.seen:
            self.seen, self.progressed_at = progress, now
        if self.workers is None or now - self.checked_at >= self.check_every:
            self.checked_at = now
            self._check_workers()
        if now - self.progressed_at >= self.stall_after:
            self.progressed_at = now
            from tasks import messages  # Celery: imported when used, not by `batch show` (sweeper_line)

            messages.ask_for_sweep(by="--wait")
            self.say(
                f"no progress for {self.stall_after:.0f} s: asked the workers for a sweep (it sends lost work again)"
            )

    def _check_workers(self) -> None:
        consuming = bool(posting_consumers())
        if consuming != self.workers:
            if not consuming:
                self.say(NO_WORKER)
            elif self.workers is False:
                self.say(WORKER_BACK)
        self.workers = consuming


def posting_consumers(timeout: float = 1.0) -> list[str]:
    """Names of the workers that answer within `timeout` seconds and consume the posting queue."""
    from workers.app import app

    answers: dict[str, list[dict[str, Any]]] = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(name for name, queues in answers.items() if any(q.get("name") == "posting" for q in queues))


def batch_keeps_posting(batch_id: int) -> str:
    return f"batch {batch_id} keeps posting in the workers; watch it with `tillpost batch show {batch_id}`"


REQUESTS_KEEP_POSTING = "the requests are recorded and keep posting; see each with `tillpost sale show REQUEST_ID`"


def sweeper_line(status: dict[str, Any]) -> str:
    """`batch show` and `check`: when the sweeper last ran, and a warning when it is overdue."""
    if status["last_run"] is None:
        said = "sweeper has never run"
    else:
        said = f"sweeper last ran {_ago(status['seconds_ago'])} ago ({status['by']})"
    if status["overdue"]:
        every = f"every {status['every']:g} s" if status["every"] else "every few seconds"
        said += f"  OVERDUE: it should run {every}; start beat and a worker (`tillpost up`)"
    return said


def _ago(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
