"""Live progress of posting work on stderr (`post --wait`, `submit --wait`, `demo`).

On a terminal: a rich bar that fits 80 columns, with done/total, rate, rejected so far, ETA and the
state; once every request has its outcome (POSTED), a second bar follows the follow-ups until the
batch is DONE or needs ATTENTION. Anywhere else (a log, CI): a plain line every few seconds and one
at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from domain.vocabulary import SETTLED, BatchState
from services import lookups
from services.unit_of_work import Database

POLL = 0.5  # seconds between two looks at the ledger
PLAIN_EVERY = 5.0  # seconds between two plain lines
MAX_WIDTH = 100  # on a wide terminal the bar stops growing here
POSTED_OR_LATER = (BatchState.POSTED, *SETTLED)


@dataclass(frozen=True)
class Snapshot:
    done: int
    total: int
    state: str
    rejected: int | None = None  # None: not counted (submit)
    follow_ups: tuple[int, int, int] | None = None  # (run or failed, of, failed) once POSTED


class _Speed:
    """Items per second since the first look (held once all are done), and the time left at that rate."""

    def __init__(self) -> None:
        self.first: tuple[float, int] | None = None
        self.held: float | None = None

    def rate(self, done: int, total: int) -> float:
        if self.held is not None:
            return self.held
        now = time.monotonic()
        if self.first is None:
            self.first = (now, done)
        started, done_then = self.first
        rate = (done - done_then) / (now - started) if now > started else 0.0
        if done >= total and now > started:
            self.held = rate
        return rate

    @staticmethod
    def eta(done: int, total: int, rate: float) -> str:
        if rate <= 0 or done >= total:
            return "-"
        minutes, secs = divmod(int((total - done) / rate), 60)
        return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "#" * filled + "." * (width - filled)


class ProgressDisplay:
    """Shows snapshots of one piece of work, labelled e.g. "batch 7", while in its `with` block."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.requests, self.follow_ups = _Speed(), _Speed()
        self.last_plain = -PLAIN_EVERY
        self.bars: Progress | None = _live_bars() if sys.stderr.isatty() else None
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.bars is not None:
            self.bars.stop()

    def show(self, now: Snapshot, final: bool = False) -> None:
        rate = self.requests.rate(now.done, now.total)
        if self.bars is None:
            if final or time.monotonic() - self.last_plain >= PLAIN_EVERY:
                sys.stderr.write(self._plain_line(now, rate) + "\n")
                self.last_plain = time.monotonic()
            return
        posted = now.follow_ups is not None
        rejected = "" if now.rejected is None else f"rejected {now.rejected:,}"
        self._redraw(
            "requests", self.label, now.done, now.total, rate, rejected, BatchState.POSTED if posted else now.state
        )
        if now.follow_ups is not None:
            settled, total, failed = now.follow_ups
            rate = self.follow_ups.rate(settled, total)
            self._redraw("follow_ups", "follow-ups", settled, total, rate, f"failed {failed:,}", now.state)
        self.bars.refresh()

    def _plain_line(self, now: Snapshot, rate: float) -> str:
        line = f"{self.label} [{_bar(now.done, now.total)}] {now.done:,}/{now.total:,}  {rate:,.0f}/s  "
        if now.rejected is not None:
            line += f"rejected {now.rejected:,}  "
        line += f"ETA {_Speed.eta(now.done, now.total, rate)}  {now.state}"
        if now.follow_ups is not None:
            settled, total, failed = now.follow_ups
            line += f"  follow-ups {settled:,}/{total:,}" + (f" ({failed:,} failed)" if failed else "")
        return line

    def _redraw(self, task: str, label: str, done: int, total: int, rate: float, counted: str, state: str) -> None:
        assert self.bars is not None
        fields: dict[str, Any] = {
            "rate": f"{rate:,.0f}/s",
            "counted": counted,
            "eta": _Speed.eta(done, total, rate),
            "state": state,
        }
        if task not in self.tasks:
            self.tasks[task] = self.bars.add_task(label, total=total, completed=done, **fields)
        self.bars.update(self.tasks[task], total=total, completed=done, **fields)


def _live_bars() -> Progress:
    """Label, bar, done/total, rate, what was counted (rejected, failed), ETA, state: 80 columns hold
    them all, the bar taking what the rest leaves (a wider terminal gives it up to MAX_WIDTH in all)."""
    terminal = Console(stderr=True, markup=False, highlight=False)
    terminal.width = min(terminal.width, MAX_WIDTH)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(bar_width=None),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[counted]}"),
        TextColumn("ETA {task.fields[eta]}"),
        TextColumn("{task.fields[state]}"),
        console=terminal,
        expand=True,
        auto_refresh=False,
    )


def follow(
    db: Database,
    batch_id: int,
    until: tuple[str, ...] = SETTLED,
    timeout: float | None = None,
    watch: Callable[[Hashable], None] | None = None,
) -> bool:
    """Show the batch's progress until it reaches a state in `until`; False when `timeout` ran out.
    `watch` (frontends.recovery.Watch) is told the progress on every poll while the batch is unfinished."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with ProgressDisplay(f"batch {batch_id}") as display:
        while True:
            progress = lookups.batch_progress(db, batch_id)
            reached = progress.state in until
            display.show(_snapshot(progress), final=reached)
            if reached:
                return True
            if deadline is not None and time.monotonic() > deadline:
                return False
            if watch is not None:
                watch((progress.done, progress.state, progress.follow_ups_settled))
            time.sleep(POLL)


def _snapshot(progress: lookups.BatchProgress) -> Snapshot:
    follow_ups = None
    if progress.state in POSTED_OR_LATER and progress.follow_ups:
        follow_ups = (progress.follow_ups_settled, progress.follow_ups, progress.follow_ups_failed)
    return Snapshot(progress.done, progress.requests, progress.state, progress.rejected, follow_ups)


class RequestProgress(ProgressDisplay):
    """`submit --wait`: a watch for Ledger.wait, which tells it how many of `total` requests are pending."""

    def __init__(self, total: int, watch: Callable[[int], None] | None = None) -> None:
        super().__init__("requests")
        self.total, self.watch = total, watch

    def __call__(self, pending: int) -> None:
        self.show(Snapshot(self.total - pending, self.total, BatchState.POSTING))
        if self.watch is not None:
            self.watch(pending)

    def finished(self) -> None:
        self.show(Snapshot(self.total, self.total, BatchState.POSTED), final=True)
