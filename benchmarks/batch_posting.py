"""Batch posting benchmark: a day of N sales from file to DONE through the queue, against a plain loop
and a raw-SQL reference, measured in the same run on fresh databases of the same server.

    .venv/bin/python benchmarks/batch_posting.py --sales 100000 --workers 2             # demo shape
    .venv/bin/python benchmarks/batch_posting.py --shape both --sales 20000 --profile
    .venv/bin/python benchmarks/batch_posting.py --shape large --sales 20000 --scaling --skip-loop
    .venv/bin/python benchmarks/batch_posting.py --sales 0 --memory-sales 1000000   # RSS of `tillpost post`

Shapes (benchmarks/shapes.py): demo, the demo shop's day (120 products, 1-4 lines, returns, 1 in 500
requests bad); large, a chain's day (5,000 products of skewed popularity, 20,000 members, 8 outlets,
1-8 lines with explicit prices, 40% cash). Per shape, each run on a copy of a database holding the
shape's master data (imported through the project's CSV import):
- plain loop: the same file staged the same way (COPY), every chunk of 200 requests posted by
  `post_chunk` in one process, then every follow-up over sets of 200 sales by `run_follow_up`: the
  very use cases the tasks call, no queue;
- reference (benchmarks/reference.py): the same sales written with raw SQL, one transaction each,
  by as many processes as the pipeline has pool processes: the floor;
- queue (the pipeline): `tillpost post` staging + range messages, a Celery worker with N pool
  processes, until the batch is DONE; its phases from the database's timestamps, the server's top
  statements (pg_stat_statements, when loaded), each worker process's peak RSS; with --profile, the
  pool processes' statement round trips and a py-spy profile of one pool process.
--scaling: the large shape at 1, 2, 3 and 4 pool processes in one worker, then two worker nodes of 2
started separately (alone unless --shape is given too). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from benchmarks import databases, insight, pipeline, reference  # noqa: E402
from benchmarks.shapes import Shape, shape  # noqa: E402
from domain.tables import Batch, SaleRequestRow  # noqa: E402
from domain.vocabulary import FollowUpKind  # noqa: E402
from frontends.batchfiles import file_digest, read_batch  # noqa: E402
from frontends.demo_data import day_of_sales  # noqa: E402
from runtime import embedded, settings  # noqa: E402
from services import batches  # noqa: E402
from services.followups import run_follow_up  # noqa: E402
from services.posting import post_chunk  # noqa: E402

CHUNK = 200  # as the queue's messages are
SCALING = ((1,), (2,), (3,), (4,), (2, 2))


def plain_loop(db_url: str, path: Path) -> float:
    db = databases.database(db_url)
    started = time.monotonic()
    batch_id = batches.stage_batch(db, str(path), file_digest(path), partial(read_batch, path)).batch_id
    query = select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id).order_by(SaleRequestRow.id)
    ids = db.read(lambda session: list(session.scalars(query)))
    posted: list[int] = []
    for start in range(0, len(ids), CHUNK):
        posted += post_chunk(db, ids[start : start + CHUNK]).new_sales
    for start in range(0, len(posted), CHUNK):
        for kind in (FollowUpKind.REORDER, FollowUpKind.CUSTOMER_RECEIPT):  # receipts run loyalty first
            run_follow_up(db, kind, posted[start : start + CHUNK])
    batches.advance(db, batch_id)
    elapsed = time.monotonic() - started
    assert db.read(lambda session: session.scalar(select(Batch.state).where(Batch.id == batch_id))) == "DONE"
    db.dispose()
    return elapsed


def post_memory(db_url: str, broker_url: str, sales: int, folder: Path) -> tuple[int, float]:
    path = folder / f"memory-{sales}.jsonl"
    with path.open("w") as out:
        for line in day_of_sales(sales, seed=5, bad=True):
            out.write(line + "\n")
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url, TILLPOST_BROKER_URL=broker_url)
    started = time.monotonic()
    measured = subprocess.run(
        [sys.executable, "-c", PEAK_OF_CHILD, sys.executable, "-m", "frontends.cli", "post", str(path), "--json"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    path.unlink()
    return int(measured.stdout) // 1024, elapsed


# `tillpost post` alone, in a process of its own: this one's children include the benchmark's workers.
PEAK_OF_CHILD = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


class Bench:
    """One benchmark run: the server, the broker, the work folder, and each shape's template database."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.configured = bool(settings.load().configured_database_url)  # before the embedded URL is exported
        embedded.ensure_running(settings.load())
        config = settings.load()
        self.args, self.server = args, config.database_url
        self.broker = pipeline.own_broker(config.broker_url)
        self.folder = config.home / "bench"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.templates: dict[str, str] = {}

    def fresh(self, day: Shape, label: str) -> str:
        if day.name not in self.templates:
            self.templates[day.name] = databases.template(self.server, day.name, day.master_data)
        return databases.copy_of(self.server, self.templates[day.name], label)

    def day_file(self, day: Shape, sales: int) -> Path:
        path = self.folder / f"day-{day.name}-{sales}.jsonl"
        with path.open("w") as out:
            for line in day.day(sales, seed=3):
                out.write(line + "\n")
        return path

    def server_line(self) -> str:
        db = databases.database(self.server)
        with db.engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
            durability = ", ".join(f"{s}={conn.scalar(text(f'SHOW {s}'))}" for s in ("synchronous_commit", "fsync"))
        db.dispose()
        where = "configured" if self.configured else "embedded"
        return f"server: {where} PostgreSQL {version} ({durability}); cores: {os.cpu_count()}"

    def shape_run(self, day: Shape) -> None:
        args, sales, workers = self.args, self.args.sales, self.args.workers
        path = self.day_file(day, sales)
        print(f"\n== shape {day.name}: {sales:,} requests in {path.name}; pool processes: {workers}")
        loop_rate = None
        if not args.skip_loop:
            db = self.fresh(day, "loop")
            seconds = plain_loop(db, path)
            loop_rate = sales / seconds
            print(f"plain loop : {seconds:7.1f} s  {loop_rate:7.0f} sales/s  (one process, no queue)")
            databases.drop(self.server, db)
        ref = None
        if not args.skip_reference:
            db = self.fresh(day, "ref")
            ref = reference.run(db, path, workers)
            left = f"; {ref.left_out} returns/bad requests left out" if ref.left_out else ""
            print(
                f"reference  : {ref.seconds:7.1f} s  {ref.rate:7.0f} sales/s  "
                f"(raw SQL, {ref.connections} connections, {ref.sales:,} sales{left})"
            )
            databases.drop(self.server, db)
        self.pipeline_run(day, path, loop_rate, ref)

    def pipeline_run(self, day: Shape, path: Path, loop_rate: float | None, ref: reference.ReferenceRun | None) -> None:
        db = self.fresh(day, "queue")
        stats = insight.StatStatements(db)
        profile = self.folder / f"profile-{day.name}.txt"
        profile.unlink(missing_ok=True)
        statements = Path(tempfile.mkdtemp(prefix="statements-", dir=self.folder)) if self.args.profile else None
        env = {"TILLPOST_BENCH_STATEMENTS": str(statements)} if statements else None
        during = insight.start_py_spy(profile) if self.args.profile else None
        run = pipeline.run(db, self.broker, path, [self.args.workers], env, during, stats.capture)
        sales, ph = self.args.sales, run.phases
        print(
            f"queue      : {run.seconds:7.1f} s  {sales / run.seconds:7.0f} sales/s  "
            f"(file to DONE, {self.args.workers} pool processes)"
        )
        if loop_rate:
            print(f"ratio      : {sales / run.seconds / loop_rate:.2f} of the plain loop's rate")
        posted = int(run.summary["counts"].get("POSTED", 0))
        if ref:  # the reference posts sales only: compare sales posted per second
            print(
                f"vs floor   : {posted / run.seconds / ref.rate:.2f} of the raw-SQL reference's rate (sales posted/s)"
            )
        print(
            f"phases     : staging   {ph.staging:7.1f} s  {sales / max(ph.staging, 1e-9):7.0f} requests/s  "
            "(file to staged and sent)"
        )
        print(
            f"             posting   {ph.posting:7.1f} s  {run.requests / max(ph.posting, 1e-9):7.0f} requests/s  "
            f"(first to last outcome; first {ph.to_first_outcome:.1f} s after the start)"
        )
        print(
            f"             follow-up {ph.tail:7.1f} s  {posted / max(ph.tail, 1e-9):7.0f} sales/s     "
            "(tail: batch POSTED to DONE)"
        )
        counts = {str(outcome): n for outcome, n in run.summary["counts"].items()}
        print(f"outcomes   : {counts}  reconciled={run.summary['reconciled']}  state={run.summary['state']}")
        pools = ", ".join(f"{run.peaks.get(pid, 0)}" for pid in run.pool_pids)
        print(f"worker RSS : peak {max(run.peaks.values(), default=0)} MB per process; pool processes {pools} MB")
        for line in stats.top():
            print(line)
        if statements:
            for line in [*insight.client_statements(statements), *insight.profile_lines(profile)]:
                print(line)
            shutil.rmtree(statements)
        databases.drop(self.server, db)

    def scaling(self) -> None:
        day = shape("large")
        sales = self.args.sales
        path = self.day_file(day, sales)
        print(f"\n== scaling: large shape, {sales:,} requests, file to DONE")
        print(f"  {'worker nodes x pool processes':<34} {'seconds':>8} {'sales/s':>8} {'vs 1':>6} {'peak RSS':>9}")
        first = None
        for nodes in SCALING:
            db = self.fresh(day, "scale")
            run = pipeline.run(db, self.broker, path, list(nodes))
            databases.drop(self.server, db)
            first = first or run.rate
            label = " + ".join(f"1 x {n}" for n in nodes) + (" (separate nodes)" if len(nodes) > 1 else "")
            peak = max(run.peaks.values(), default=0)
            print(f"  {label:<34} {run.seconds:>8.1f} {run.rate:>8.0f} {run.rate / first:>6.2f} {peak:>6} MB")

    def memory(self) -> None:
        db = self.fresh(shape("demo"), "memory")
        rss, seconds = post_memory(db, self.broker, self.args.memory_sales, self.folder)
        print(f"post RSS   : peak {rss} MB staging {self.args.memory_sales:,} sales in {seconds:.1f} s")
        databases.drop(self.server, db)

    def close(self) -> None:
        pipeline.flush(self.broker)  # what --memory-sales sent, with no worker to take it
        for name in self.templates.values():
            databases.drop(self.server, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=100_000, help="sales in the day to post (0: none)")
    parser.add_argument("--workers", type=int, default=2, help="pool processes (and reference connections)")
    parser.add_argument("--shape", choices=("demo", "large", "both"), help="default: demo, or none with --scaling")
    parser.add_argument("--memory-sales", type=int, default=0, help="also measure `tillpost post` RSS on N sales")
    parser.add_argument("--skip-loop", action="store_true")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy one pool process; time statements in all")
    parser.add_argument("--scaling", action="store_true", help="large shape at 1, 2, 3, 4 pool processes and 2 nodes")
    args = parser.parse_args()

    bench = Bench(args)
    print(bench.server_line())
    try:
        if args.sales:
            wanted = args.shape or ("none" if args.scaling else "demo")
            for name in {"both": ("demo", "large"), "none": ()}.get(wanted, (wanted,)):
                bench.shape_run(shape(name))
            if args.scaling:
                bench.scaling()
        if args.memory_sales:
            bench.memory()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
