"""The pipeline run: `tillpost post` of a day file, worker node(s) posting it, timed from the file to
DONE, with its phases read from the database's own timestamps and each worker process's peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.databases import database
from benchmarks.rss import RssSampler
from domain.batches import report
from domain.tables import Batch, FollowUp, SaleRequestRow
from domain.vocabulary import SETTLED
from frontends.processes import worker_command
from tests.workers import redis_client, test_broker_url

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Phases:
    """Seconds of each phase: staging (file to every request staged and sent), posting (first to last
    outcome), the follow-up tail (batch POSTED to DONE)."""

    staging: float
    posting: float
    tail: float
    to_first_outcome: float


@dataclass
class PipelineRun:
    seconds: float
    requests: int
    phases: Phases
    peaks: dict[int, int]  # pid -> MB
    summary: dict[str, Any]
    pool_pids: list[int] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def own_broker(broker_url: str) -> str:
    """A Redis database of the benchmark's own (1..15, never 0), claimed as test runs claim theirs, so
    that emptying it between runs never eats another run's messages or claims."""
    return test_broker_url(broker_url)


def flush(broker_url: str) -> None:
    redis_client(broker_url).flushdb()


def start_node(env: dict[str, str], log: Path, processes: int, name: str, app: str) -> subprocess.Popen[bytes]:
    quiet = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--logfile", str(log), "-n", name]
    command = worker_command(["-c", str(processes), *quiet], events=False)
    command[command.index("workers.app")] = app
    return subprocess.Popen(
        command, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def pool_pids(node: subprocess.Popen[bytes]) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(node.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def run(
    db_url: str,
    broker_url: str,
    path: Path,
    nodes: list[int],
    env_extra: dict[str, str] | None = None,
    during: Any = None,
    on_done: Callable[[], None] | None = None,
) -> PipelineRun:
    """Post `path` through worker nodes of `nodes[i]` pool processes each, started separately with
    distinct node names (as separate hosts would run them). `during(pool_pids)` is called once the
    clock runs (the profiler's hook); it returns a callable that stops it. `on_done()` is called as
    the batch is DONE, before the benchmark reads anything back (the statement figures' snapshot)."""
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url, TILLPOST_BROKER_URL=broker_url, **(env_extra or {}))
    app = "benchmarks.instrumented" if env_extra else "workers.app"
    flush(broker_url)
    workers = [
        start_node(env, path.parent / f"bench-worker-{n}.log", size, f"bench{n}@%h", app)
        for n, size in enumerate(nodes)
    ]
    samplers = [RssSampler(worker.pid) for worker in workers]
    for sampler in samplers:
        sampler.start()
    time.sleep(4)  # the pools are up before the clock starts
    pids = [pid for worker in workers for pid in pool_pids(worker)]
    db = database(db_url)
    stop_during = None
    try:
        started_wall, started = time.time(), time.monotonic()
        if during is not None:
            stop_during = during(pids)
        poster = subprocess.run(
            [sys.executable, "-m", "frontends.cli", "post", str(path), "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        staged = time.monotonic() - started
        batch_id = int(json.loads(poster.stdout)["id"])
        state = select(Batch.state).where(Batch.id == batch_id)
        while db.read(lambda session: session.scalar(state)) not in SETTLED:
            time.sleep(0.25)
        seconds = time.monotonic() - started
        if on_done is not None:
            on_done()
    finally:
        if stop_during is not None:
            stop_during()
        for sampler in samplers:
            sampler.stop.set()
        for worker in workers:
            os.killpg(worker.pid, 15)
        for worker in workers:
            worker.wait(timeout=60)
    with db.sessions() as session:
        summary = report.batch_show(session, batch_id)
        summary["open_follow_ups"] = session.scalar(select(func.count()).where(FollowUp.done_at.is_(None)))
        first, last = session.execute(
            select(func.min(SaleRequestRow.processed_at), func.max(SaleRequestRow.processed_at)).where(
                SaleRequestRow.batch_id == batch_id
            )
        ).one()
        posted_at, done_at = session.execute(select(Batch.posted_at, Batch.done_at).where(Batch.id == batch_id)).one()
    db.dispose()
    phases = Phases(
        staging=staged,
        posting=_between(first, last),
        tail=_between(posted_at, done_at),
        to_first_outcome=first.timestamp() - started_wall if first else 0.0,
    )
    peaks = {pid: mb for sampler in samplers for pid, mb in sampler.peak.items()}
    return PipelineRun(seconds, int(summary["requests"]), phases, peaks, summary, pids)


def _between(start: datetime | None, end: datetime | None) -> float:
    return (end - start).total_seconds() if start and end else 0.0
