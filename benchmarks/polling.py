"""Does polling `tillpost batch show` slow posting? The large day from file to DONE through 2 pool
processes, alternately with and without a poller running `tillpost batch show LATEST --json` every
second (as a user or a script watching the batch would), ROUNDS times each; prints each run and the
medians. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/polling.py --sales 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from benchmarks import databases, pipeline  # noqa: E402
from benchmarks.shapes import shape  # noqa: E402
from domain.tables import Batch  # noqa: E402
from runtime import embedded, settings  # noqa: E402


def poller(db_url: str, shows: list[float]) -> object:
    """Start polling `batch show` of the newest batch every second; returns the stopper."""
    stop = threading.Event()
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url)

    def poll() -> None:
        db = databases.database(db_url)
        while not stop.wait(1.0):
            latest = db.read(lambda session: session.scalar(select(func.max(Batch.id))))
            if latest is None:
                continue
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "frontends.cli", "batch", "show", str(latest), "--json"],
                env=env,
                cwd=ROOT,
                capture_output=True,
                check=False,
            )
            shows.append(time.monotonic() - started)
        db.dispose()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    return lambda: (stop.set(), thread.join())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sales", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    embedded.ensure_running(settings.load())
    config = settings.load()
    server, broker = config.database_url, pipeline.own_broker(config.broker_url)
    folder = config.home / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    day = shape("large")
    path = folder / f"poll-large-{args.sales}.jsonl"
    path.write_text("".join(line + "\n" for line in day.day(args.sales, seed=3)))
    template = databases.template(server, "large", day.master_data)
    rates: dict[str, list[float]] = {"quiet": [], "polled": []}
    shows: list[float] = []
    print(f"large shape, {args.sales:,} sales, {args.workers} pool processes; cores: {os.cpu_count()}")
    try:
        for round_no in range(1, args.rounds + 1):
            for label in ("quiet", "polled"):
                db_url = databases.copy_of(server, template, "poll")
                during = (lambda pids, url=db_url: poller(url, shows)) if label == "polled" else None
                run = pipeline.run(db_url, broker, path, [args.workers], during=during)
                rates[label].append(args.sales / run.seconds)
                print(f"round {round_no} {label:6}: {run.seconds:6.1f} s  {args.sales / run.seconds:5.0f} sales/s")
                databases.drop(server, db_url)
    finally:
        databases.drop(server, template)
    quiet, polled = statistics.median(rates["quiet"]), statistics.median(rates["polled"])
    print(f"median     : quiet {quiet:.0f} sales/s, polled {polled:.0f} sales/s ({polled / quiet:.2f} of quiet)")
    if shows:
        print(f"batch show : {len(shows)} polls, median {statistics.median(shows) * 1000:.0f} ms (a whole process)")


if __name__ == "__main__":
    main()
