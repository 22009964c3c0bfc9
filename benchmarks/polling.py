"""Does polling `tillpost batch show` slow posting? The large day from file to DONE through 2 pool
processes, in turn: quiet; with a poller running `tillpost batch show LATEST --json` every second
(a new process each time, as a script in a loop would); and watched by one `tillpost batch show
LATEST --watch 1 --json` process (one process, one connection, until the batch is DONE). ROUNDS
times each; prints each run and the medians. Prints figures; asserts nothing.

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


def watcher(db_url: str, shows: list[float]) -> object:
    """Start one `batch show --watch 1` of the newest batch once there is one; returns the stopper."""
    stop = threading.Event()
    env = dict(os.environ, TILLPOST_DATABASE_URL=db_url)

    def watch() -> None:
        db = databases.database(db_url)
        latest = None
        while latest is None and not stop.wait(0.2):
            latest = db.read(lambda session: session.scalar(select(func.max(Batch.id))))
        db.dispose()
        if latest is None:
            return
        command = [sys.executable, "-m", "frontends.cli", "batch", "show", str(latest), "--watch", "1", "--json"]
        watching = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert watching.stdout is not None
        for _ in watching.stdout:  # one JSON line a showing
            shows.append(1.0)
        watching.wait()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return lambda: (stop.set(), thread.join(timeout=30))


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
    rates: dict[str, list[float]] = {"quiet": [], "polled": [], "watched": []}
    shows: list[float] = []
    watched: list[float] = []
    starters = {"polled": lambda url: poller(url, shows), "watched": lambda url: watcher(url, watched)}
    print(f"large shape, {args.sales:,} sales, {args.workers} pool processes; cores: {os.cpu_count()}")
    try:
        for round_no in range(1, args.rounds + 1):
            for label in rates:
                db_url = databases.copy_of(server, template, "poll")
                start = starters.get(label)
                during = None if start is None else (lambda pids, url=db_url, start=start: start(url))
                run = pipeline.run(db_url, broker, path, [args.workers], during=during)
                rates[label].append(args.sales / run.seconds)
                print(f"round {round_no} {label:6}: {run.seconds:6.1f} s  {args.sales / run.seconds:5.0f} sales/s")
                databases.drop(server, db_url)
    finally:
        databases.drop(server, template)
    quiet, polled, seen = (statistics.median(rates[label]) for label in ("quiet", "polled", "watched"))
    print(
        f"median     : quiet {quiet:.0f} sales/s, polled {polled:.0f} sales/s ({polled / quiet:.2f} of quiet),"
        f" watched {seen:.0f} sales/s ({seen / quiet:.2f} of quiet)"
    )
    if shows:
        print(f"batch show : {len(shows)} polls, median {statistics.median(shows) * 1000:.0f} ms (a whole process)")
    print(f"--watch 1  : {len(watched)} showings in {args.rounds} runs (one process a run)")


if __name__ == "__main__":
    main()
