"""Every worker keeps an eye on the sweeper, so recovery never hangs on one beat process.

Each sweep interval the worker's own timer (in its main process, see Celery's "Extensions and
Bootsteps") sends one `sweep(when_overdue=True)` to the sweeper queue; whichever worker takes it
sweeps only when no sweep ran for two intervals, one at a time under the sweeper's lock, and skips
any queue that still has a backlog. With beat alive it costs one small query an interval.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from runtime import settings
from tasks.messages import ask_for_sweep


class SelfSweep(bootsteps.StartStopStep):  # type: ignore[misc]  # Celery ships no type hints
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.every = settings.load().sweep_interval
        self.timer: Any = None

    def start(self, worker: Any) -> None:
        self.timer = worker.timer.call_repeatedly(self.every, self.check, (worker,), priority=10)

    def stop(self, worker: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def check(self, worker: Any) -> None:
        # Sending is all the main process does: the query and the sweep run in the pool.
        ask_for_sweep(by=f"worker {worker.hostname}", when_overdue=True, expires=self.every)
