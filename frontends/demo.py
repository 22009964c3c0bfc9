"""`tillpost demo`: from nothing to a posted day in one command.

Embedded servers (unless URLs are configured), migrations, the demo shop's master data imported
through the same CSV import shops use, a generated day of sales written as a JSON Lines batch,
worker processes started for the run, the batch posted with a live progress bar, the summary printed.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from domain.masterdata.importing import KINDS
from domain.vocabulary import SETTLED
from frontends import processes
from frontends.batchpost import post_file
from frontends.demo_data import as_csv, catalogue, day_of_sales
from frontends.progress import follow
from migrations.schema import upgrade
from runtime import settings
from services import batches, lookups, masterdata
from services.unit_of_work import Database, connect


def run_demo(sales: int, workers: int, start_workers: bool = True) -> dict[str, Any]:
    config = settings.load()
    db = connect(config)
    print("1/5 database migrated", file=sys.stderr, flush=True)
    upgrade(config.database_url)
    load_shop(db)
    print("2/5 demo shop imported: 4 outlets, 120 products, 300 members", file=sys.stderr, flush=True)
    path, day = write_day(db, config.home, sales)
    print(f"3/5 {sales:,} sales of {day} written to {path}", file=sys.stderr, flush=True)
    log = config.home / "demo" / "workers.log"
    worker = _start_workers(workers, log) if start_workers else None
    try:
        print(f"4/5 posting with {workers} worker process(es)", file=sys.stderr, flush=True)
        if worker is not None:
            print(f"    their output goes to {log}", file=sys.stderr, flush=True)
        started = time.monotonic()
        batch_id = post_file(db, path)
        follow(db, batch_id, until=SETTLED)
        elapsed = time.monotonic() - started
    finally:
        if worker is not None:
            processes.stop_process(worker)
    document = lookups.batch_show(db, batch_id)
    print(
        f"5/5 batch {batch_id} {document['state']} in {elapsed:.1f}s ({sales / elapsed:,.0f} sales/s)",
        file=sys.stderr,
        flush=True,
    )
    return document


def sweeper_note(status: dict[str, Any], started_workers: bool) -> str | None:
    """What the demo's summary says of the sweeper, instead of `batch show`'s line (None: that line).
    The demo starts workers but not beat, so a sweeper that has not run lately is no alarm there: it
    says the demo runs none (its workers would stand in after two sweep intervals without one). With
    --no-workers the workers are someone else's, and an overdue sweeper is theirs to fix: warned."""
    if not (started_workers and status["overdue"]):
        return None
    return "sweeper: none in the demo (it starts workers, not beat; `tillpost up` runs both)"


def load_shop(db: Database) -> None:
    shop = catalogue()
    for kind in KINDS:
        masterdata.import_rows(db, kind, io.StringIO(as_csv(shop[kind])))


def write_day(db: Database, home: Path, sales: int) -> tuple[Path, str]:
    """Each run posts the next day, so running the demo again adds a day instead of duplicates."""
    runs = batches.count_batches_from(db, "%demo-day-%")
    day = (date(2025, 3, 1) + timedelta(days=runs)).isoformat()
    folder = home / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-day-{day}.jsonl"
    with path.open("w") as out:
        for line in day_of_sales(sales, seed=runs + 1, day=day):
            out.write(line + "\n")
    return path, day


def _start_workers(workers: int, log: Path) -> subprocess.Popen[bytes]:
    """Workers for the run, in their own process group; everything they print goes to `log`, so that
    the demo's stdout holds only its summary (one JSON document with --json)."""
    from workers.app import app

    command = processes.worker_command(["-c", str(workers)])
    with log.open("w") as out:
        worker = subprocess.Popen(command, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo's workers did not answer within 60 s")
    return worker
