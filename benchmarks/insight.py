"""Where one sale's time goes: the server's top statements (pg_stat_statements), the pool processes'
statement round trips (benchmarks/instrumented.py) and a py-spy profile of one pool process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from domain.db import make_engine

TOP = 10


class StatStatements:
    """pg_stat_statements of the run's database, when the server has it loaded; `unavailable` says why not."""

    def __init__(self, db_url: str) -> None:
        self.engine = make_engine(db_url, isolation_level="AUTOCOMMIT")
        self.unavailable: str | None = None
        self.rows: list[Any] = []
        try:
            with self.engine.connect() as conn:
                if not conn.scalar(text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")):
                    self.unavailable = (
                        "this server has no pg_stat_statements extension (the embedded pgserver lacks it)"
                    )
                    return
                preload = conn.scalar(text("SHOW shared_preload_libraries")) or ""
                if "pg_stat_statements" not in preload:
                    self.unavailable = (
                        f"shared_preload_libraries is {preload!r}: it needs shared_preload_libraries = "
                        "'pg_stat_statements' and a server restart (the machine's configuration was not changed)"
                    )
                    return
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
                conn.execute(text("SELECT pg_stat_statements_reset()"))
        except Exception as exc:  # no right to create it, or any other refusal: say why and go on
            self.unavailable = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"

    def capture(self) -> None:
        """Read the figures now (as the batch is DONE, before the benchmark's own reads)."""
        if self.unavailable:
            return
        query = text("""
            SELECT calls, total_exec_time, sum(total_exec_time) OVER () AS all_ms, query
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time DESC LIMIT :top
        """)
        with self.engine.connect() as conn:
            self.rows = conn.execute(query, {"top": TOP}).all()
        self.engine.dispose()

    def top(self) -> list[str]:
        if self.unavailable:
            return [f"pg_stat_statements unavailable: {self.unavailable}"]
        rows = self.rows
        total = rows[0].all_ms if rows else 0.0
        return statement_table(
            "server time (pg_stat_statements)", [(r.calls, r.total_exec_time, r.query) for r in rows], total
        )


def statement_table(title: str, rows: Iterable[tuple[int, float, str]], total_ms: float | None = None) -> list[str]:
    """calls, total ms, mean ms and share of the total, one statement a line (shortened)."""
    rows = list(rows)
    total = total_ms if total_ms is not None else sum(ms for _, ms, _ in rows)
    out = [f"top statements by {title}:", f"  {'calls':>8} {'total ms':>10} {'mean ms':>8} {'share':>6}  statement"]
    for calls, ms, statement in rows:
        share = ms / total if total else 0.0
        line = " ".join(statement.split())
        out.append(f"  {calls:>8} {ms:>10.0f} {ms / max(calls, 1):>8.3f} {share:>6.1%}  {line[:90]}")
    return out


def client_statements(folder: Path) -> list[str]:
    """The pool processes' own statement timings (round trip as waited for), summed over processes."""
    figures: dict[str, list[float]] = {}
    for dump in folder.glob("*.json"):
        for statement, (calls, seconds) in json.loads(dump.read_text()).items():
            mine = figures.setdefault(statement, [0, 0.0])
            mine[0] += calls
            mine[1] += seconds
    if not figures:
        return ["pool processes' statement timings: none written"]
    total = sum(seconds for _, seconds in figures.values()) * 1000
    ranked = sorted(figures.items(), key=lambda item: -item[1][1])[:TOP]
    rows = [(int(calls), seconds * 1000, statement) for statement, (calls, seconds) in ranked]
    return statement_table("round trip in the pool processes (client side, incl. COMMIT)", rows, total)


def py_spy() -> str | None:
    """py-spy beside this Python (the venv's, from the dev extras), else on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start_py_spy(output: Path) -> Callable[[list[int]], Callable[[], None]]:
    """A `during` hook for pipeline.run: py-spy records the first pool process, idle time included (a
    pool process mostly waits on PostgreSQL), as collapsed stacks (speedscope.app opens them)."""

    def during(pids: list[int]) -> Callable[[], None]:
        spy = py_spy()
        if spy is None or not pids:
            return lambda: None
        command = [spy, "record", "--pid", str(pids[0]), "--idle", "--format", "raw", "--output", str(output)]
        recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def stop() -> None:
            recorder.send_signal(2)  # py-spy writes its file on SIGINT
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()

        return stop

    return during


def own_time(collapsed: Iterable[str], top: int = 15) -> list[tuple[str, int, float]]:
    """Functions by own time from collapsed stacks ("a;b;c 12"): the innermost frame of each stack
    gets its samples. (function, samples, share of all samples)."""
    counts: Counter[str] = Counter()
    for line in collapsed:
        stack, _, samples = line.rstrip("\n").rpartition(" ")
        if stack and samples.isdigit():
            counts[_short(stack.split(";")[-1])] += int(samples)
    total = sum(counts.values())
    return [(name, n, n / total) for name, n in counts.most_common(top)] if total else []


def _short(frame: str) -> str:
    """'post_chunk (services/posting.py:42)' without the line number, the site-packages prefix shortened."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    if "site-packages/" in where:
        where = where.split("site-packages/", 1)[1]
    return f"{name} ({where})" if where else name


def profile_lines(output: Path) -> list[str]:
    if py_spy() is None:
        return ["profile: py-spy is not installed (pip install py-spy, or .[dev])"]
    if not output.exists():
        return ["profile: py-spy wrote nothing (was the pool process gone?)"]
    rows = own_time(output.read_text().splitlines())
    out = [f"profile of one pool process (py-spy, idle included): {output}", "  own time  function"]
    out += [f"  {share:>7.1%}  {name}" for name, _, share in rows]
    return out
