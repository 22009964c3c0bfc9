"""A live progress bar for a posting batch: done/total, rate, rejected so far, ETA (on stderr)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable

from sqlalchemy.orm import Session, sessionmaker

from domain.batches import report as batch_report
from domain.tables import Batch


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "#" * filled + "." * (width - filled)


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def follow(
    sessions: sessionmaker[Session],
    batch_id: int,
    until: tuple[str, ...] = ("DONE",),
    timeout: float | None = None,
    out: Callable[[str], object] | None = None,
    watch: Callable[[Hashable], None] | None = None,
) -> bool:
    """Redraw the bar until the batch reaches a state in `until`; False when `timeout` ran out.
    `watch` (frontends.recovery.Watch) is told the progress on every poll while the batch is unfinished."""
    tty = sys.stderr.isatty()
    write = out or sys.stderr.write
    started = time.monotonic()
    last_line = 0.0
    first_done: tuple[float, int] | None = None
    while True:
        with sessions() as session:
            state = session.get(Batch, batch_id)
            assert state is not None
            total, current = state.requests, state.state
            counts = batch_report.progress(session, batch_id)
        done = total - counts["PENDING"]
        now = time.monotonic()
        if first_done is None:
            first_done = (now, done)
        rate = (done - first_done[1]) / (now - first_done[0]) if now > first_done[0] else 0.0
        eta = _eta((total - done) / rate) if rate > 0 and done < total else "-"
        line = (
            f"batch {batch_id} [{_bar(done, total)}] {done:,}/{total:,}  {rate:,.0f}/s  "
            f"rejected {counts['REJECTED']:,}  ETA {eta}  {current}"
        )
        if tty:
            write("\r" + line + "\033[K")
        elif now - last_line >= 5 or current in until:
            write(line + "\n")
            last_line = now
        if current in until:
            if tty:
                write("\n")
            return True
        if timeout is not None and now - started > timeout:
            if tty:
                write("\n")
            return False
        if watch is not None:
            watch((done, current))
        time.sleep(0.5)
