"""Batch posting benchmark: a day of N sales from file to DONE, through the queue and through a
plain loop, measured in the same run on fresh databases of the same server.

    .venv/bin/python benchmarks/batch_posting.py --sales 100000 --workers 2
    .venv/bin/python benchmarks/batch_posting.py --memory-sales 1000000   # RSS of `tillpost post`

Plain loop: the same file staged the same way (COPY), then every chunk of 200 requests posted by
`post_chunk` in one process, then every follow-up run over sets of 200 sales by `run_follow_up`: the
very use cases the tasks call, no queue.
Queue: `tillpost post` staging + range messages, a Celery worker with N pool processes, until the
batch is DONE (every follow-up run). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dataclasses import replace  # noqa: E402
from functools import partial  # noqa: E402

from sqlalchemy import make_url, select, text  # noqa: E402

from benchmarks.rss import RssSampler  # noqa: E402
from domain.batches import report  # noqa: E402
from domain.db import make_engine  # noqa: E402
from domain.tables import Batch, FollowUp, Sale, SaleRequestRow  # noqa: E402
from domain.vocabulary import SETTLED, FollowUpKind  # noqa: E402
from frontends.batchfiles import file_digest, read_batch  # noqa: E402
from frontends.demo import load_shop  # noqa: E402
from frontends.demo_data import day_of_sales  # noqa: E402
from frontends.processes import worker_command  # noqa: E402
from migrations.schema import upgrade  # noqa: E402
from runtime import embedded, settings  # noqa: E402
from services import batches  # noqa: E402
from services.followups import run_follow_up  # noqa: E402
from services.posting import post_chunk  # noqa: E402
from services.unit_of_work import Database, connect  # noqa: E402

CHUNK = 200  # as the queue's messages are


def database(db_url: str) -> Database:
    return connect(replace(settings.load(), configured_database_url=db_url))


def fresh_database(server_url: str, label: str) -> str:
    url = make_url(server_url)
    name = f"tillpost_bench_{label}_{uuid.uuid4().hex[:6]}"
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    db_url = url.set(database=name).render_as_string(hide_password=False)
    upgrade(db_url)
    db = database(db_url)
    load_shop(db)
    db.dispose()
    return db_url


def drop_database(server_url: str, db_url: str) -> None:
    admin = make_engine(
        make_url(server_url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(db_url).database}" WITH (FORCE)'))
    admin.dispose()


def plain_loop(db_url: str, path: Path) -> float:
    db = database(db_url)
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


def _flush(broker_url: str) -> None:
    import redis

    if broker_url.startswith("redis+socket://"):
        redis.Redis(unix_socket_path=broker_url.split("?")[0][len("redis+socket://") :], db=11).flushdb()
    else:
        redis.Redis.from_url(broker_url).flushdb()


def through_queue(db_url: str, broker_url: str, path: Path, workers: int) -> tuple[float, dict[int, int], dict]:
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url, TILLPOST_BROKER_URL=broker_url)
    _flush(broker_url)
    worker = _start_worker(env, path.parent / "bench-worker.log", workers)
    sampler = RssSampler(worker.pid)
    sampler.start()
    time.sleep(4)  # the worker's pool is up before the clock starts
    db = database(db_url)
    try:
        started = time.monotonic()
        poster = subprocess.run(
            [sys.executable, "-m", "frontends.cli", "post", str(path), "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        batch_id = int(json.loads(poster.stdout)["id"])
        state = select(Batch.state).where(Batch.id == batch_id)
        while db.read(lambda session: session.scalar(state)) not in SETTLED:
            time.sleep(0.25)
        elapsed = time.monotonic() - started
    finally:
        sampler.stop.set()
        os.killpg(worker.pid, 15)
        worker.wait(timeout=60)
    with db.sessions() as session:
        summary = report.batch_show(session, batch_id)
        summary["open_follow_ups"] = session.scalar(select(FollowUp.sale_id).where(FollowUp.done_at.is_(None)).limit(1))
        summary["sales_rows"] = session.scalar(select(Sale.id).order_by(Sale.id.desc()).limit(1))
    db.dispose()
    return elapsed, sampler.peak, summary


def _start_worker(env: dict[str, str], log: Path, workers: int) -> subprocess.Popen[bytes]:
    quiet = ["--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--logfile", str(log)]
    return subprocess.Popen(
        worker_command(["-c", str(workers), *quiet], events=False),
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def post_memory(db_url: str, broker_url: str, sales: int, folder: Path) -> tuple[int, float]:
    path = folder / f"memory-{sales}.jsonl"
    with path.open("w") as out:
        for line in day_of_sales(sales, seed=5, bad=True):
            out.write(line + "\n")
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url, TILLPOST_BROKER_URL=broker_url)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "frontends.cli", "post", str(path), "--json"],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    path.unlink()
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, elapsed


def run_queue(server: str, broker: str, path: Path, sales: int, workers: int, loop_rate: float | None) -> None:
    db = fresh_database(server, "queue")
    seconds, peaks, summary = through_queue(db, broker, path, workers)
    rate = sales / seconds
    print(f"queue      : {seconds:7.1f} s  {rate:7.0f} sales/s  (file to DONE, {workers} pool processes)")
    if loop_rate:
        print(f"ratio      : {rate / loop_rate:.2f} of the plain loop's rate")
    counts = {str(outcome): n for outcome, n in summary["counts"].items()}
    print(f"outcomes   : {counts}  reconciled={summary['reconciled']}  state={summary['state']}")
    sizes = ", ".join(str(v) for v in sorted(peaks.values()))
    print(f"worker RSS : peak {max(peaks.values(), default=0)} MB per process ({sizes} MB)")
    drop_database(server, db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=100_000, help="sales in the day to post (0: none)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-sales", type=int, default=0, help="also measure `tillpost post` RSS on N sales")
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()

    embedded.ensure_running(settings.load())
    config = settings.load()
    server, broker = config.database_url, config.broker_url
    broker = broker.split("?")[0] + "?virtual_host=11" if broker.startswith("redis+socket") else broker
    folder = config.home / "bench"
    folder.mkdir(parents=True, exist_ok=True)

    if args.sales:
        path = folder / f"day-{args.sales}.jsonl"
        with path.open("w") as out:
            for line in day_of_sales(args.sales, seed=3, bad=True):
                out.write(line + "\n")
        print(f"sales: {args.sales:,} requests in {path.name}; workers: {args.workers}; cores: {os.cpu_count()}")
        loop_rate = None
        if not args.skip_loop:
            db = fresh_database(server, "loop")
            seconds = plain_loop(db, path)
            loop_rate = args.sales / seconds
            print(f"plain loop : {seconds:7.1f} s  {loop_rate:7.0f} sales/s  (one process, no queue)")
            drop_database(server, db)
        run_queue(server, broker, path, args.sales, args.workers, loop_rate)

    if args.memory_sales:
        db = fresh_database(server, "memory")
        rss, seconds = post_memory(db, broker, args.memory_sales, folder)
        print(f"post RSS   : peak {rss} MB staging {args.memory_sales:,} sales in {seconds:.1f} s")
        drop_database(server, db)


if __name__ == "__main__":
    main()
