"""The project's Celery app with the benchmark's instruments, for `--profile` runs only:
`celery -A benchmarks.instrumented worker ...` is `workers.app` plus, in every pool process, a timer of
each SQL statement's round trip (as the pool process waits for it: client side, so it works on any
server, pg_stat_statements or not) and of each commit. Each pool process writes its figures to
TILLPOST_BENCH_STATEMENTS/<pid>.json when it exits. Nothing here runs in production."""

from __future__ import annotations

import atexit
import json
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from celery.signals import worker_process_init, worker_process_shutdown
from sqlalchemy import Engine, event

from workers.app import app

__all__ = ["app"]

_FIGURES: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])  # statement -> [calls, seconds]
_SPACES = re.compile(r"\s+")


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    conn.info["bench_started"] = time.perf_counter()


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    started = conn.info.pop("bench_started", None)
    if started is not None:
        figures = _FIGURES[_SPACES.sub(" ", statement).strip()[:300]]
        figures[0] += 1
        figures[1] += time.perf_counter() - started


def _timed_commit(dialect_class: Any) -> None:
    plain = dialect_class.do_commit

    def do_commit(self: Any, dbapi_connection: Any) -> None:
        started = time.perf_counter()
        plain(self, dbapi_connection)
        figures = _FIGURES["COMMIT"]
        figures[0] += 1
        figures[1] += time.perf_counter() - started

    dialect_class.do_commit = do_commit


def _dump(**_: Any) -> None:
    folder = os.environ.get("TILLPOST_BENCH_STATEMENTS")
    if folder and _FIGURES:
        Path(folder, f"{os.getpid()}.json").write_text(json.dumps(dict(_FIGURES)))
        _FIGURES.clear()


@worker_process_init.connect
def _instrument(**_: Any) -> None:
    if not os.environ.get("TILLPOST_BENCH_STATEMENTS"):
        return
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    event.listen(Engine, "before_cursor_execute", _before)
    event.listen(Engine, "after_cursor_execute", _after)
    _timed_commit(PGDialect_psycopg)
    atexit.register(_dump)


worker_process_shutdown.connect(_dump)
