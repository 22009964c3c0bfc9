"""Batches of sales: `post` a file, `batch show|list`, `report` (every request with its outcome),
`replay` the rejected ones, `followups retry` the failed follow-ups."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from domain.vocabulary import BatchState, Reason
from frontends.cli.common import BATCH_ID, BadInput, database, json_option, show, wait_options
from frontends.cli.summary import print_batch
from frontends.cli.watching import WATCH_DEFAULT, WATCH_EVERY, watch_batch
from services import batch_documents

if TYPE_CHECKING:  # a command imports what it uses: `batch show` is polled, a new process each time
    from services.unit_of_work import Database


@click.command()
@click.argument("file")
@wait_options("show live progress and wait until the batch is DONE")
@json_option
def post(file: str, wait: bool, timeout: float, as_json: bool) -> int:
    """Post a batch file (.jsonl or .csv).

    The batch id is printed at once; with --wait, a live progress bar and the summary at the end."""
    from frontends.batchfiles import check_readable
    from frontends.batchpost import post_file
    from frontends.recovery import batch_keeps_posting

    with _file_problems_as_bad_input():
        check_readable(Path(file))  # before the database: a wrong file name is the first thing to say
        db = database()
        batch_id = post_file(db, Path(file))
    if not as_json:
        print(f"batch {batch_id}")
    try:
        finished = _follow(db, batch_id, timeout) if wait else True
    except KeyboardInterrupt:
        print(f"\nstopped waiting: {batch_keeps_posting(batch_id)}", file=sys.stderr)
        return 130
    document = batch_documents.batch_show(db, batch_id)
    print_batch(document, as_json)
    if not finished:
        print(f"timed out after {timeout:g} s: {batch_keeps_posting(batch_id)}", file=sys.stderr)
    return 0 if finished and document["state"] != BatchState.ATTENTION else 1  # ATTENTION: a follow-up failed


@contextmanager
def _file_problems_as_bad_input() -> Iterator[None]:
    """A batch file that cannot be read, or holds no request, is bad input (exit status 2)."""
    from domain.batches.entries import BatchFileError

    try:
        yield
    except BatchFileError as exc:
        raise BadInput(str(exc)) from None


def _follow(db: Database, batch_id: int, timeout: float) -> bool:
    from frontends.progress import follow
    from frontends.recovery import Watch

    return follow(db, batch_id, timeout=timeout, watch=Watch())


@click.group()
def batch() -> None:
    """Batch state, counts, totals, reconciliation."""


@batch.command("show")
@click.argument("batch_id", metavar="ID", type=BATCH_ID)
@click.option(
    "--reconcile",
    is_flag=True,
    help="reconcile the batch against the ledger now (reads all its sales) instead of showing the "
    "reconciliation stored when it settled",
)
@click.option(
    "--watch",
    type=WATCH_EVERY,
    is_flag=False,
    flag_value=WATCH_DEFAULT,
    default=None,
    metavar="[SECONDS]",
    help=f"show the batch again every SECONDS (default {WATCH_DEFAULT:g}) until it is DONE (or ATTENTION, exit 1); "
    "one process however long it watches; with --json, one JSON object a line (JSON Lines)",
)
@json_option
def batch_show(batch_id: int, reconcile: bool, watch: float | None, as_json: bool) -> int:
    """State, counts, totals and reconciliation of batch ID.

    Counts and totals are kept as the batch posts, so showing a batch costs the same whatever its
    size; the reconciliation is computed once, when the batch is DONE (or ATTENTION)."""
    db = database()
    if watch is not None:
        return watch_batch(db, batch_id, every=watch, as_json=as_json, reconcile=reconcile)
    print_batch(batch_documents.batch_show(db, batch_id, reconcile), as_json)
    return 0


@batch.command("list")
@json_option
def batch_list(as_json: bool) -> int:
    """The latest batches, newest first."""
    return show(batch_documents.batch_list(database()), as_json, ("id", "state", "requests", "created_at", "source"))


@click.command()
@click.argument("batch_id", metavar="ID", type=BATCH_ID)
@click.option("--format", "form", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
def report(batch_id: int, form: str) -> int:
    """Every request of a batch with its outcome (CSV or JSON Lines).

    In file order, with line numbers, on stdout."""
    from domain.batches.report import REPORT_COLUMNS
    from services import lookups

    db = database()
    lookups.require_batch(db, batch_id)  # NotFound (exit 1) before anything is written
    each: Callable[[dict[str, Any]], object]
    if form == "jsonl":
        each = lambda row: sys.stdout.write(json.dumps(row) + "\n")  # noqa: E731
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        each = writer.writerow
    lookups.batch_requests(db, batch_id, each)
    return 0


@click.command()
@click.option("--batch", "batch_id", type=BATCH_ID, required=True, help="the batch whose rejected requests to post")
@click.option("--reason", type=click.Choice([r.value for r in Reason]), help="only those rejected for this reason")
def replay(batch_id: int, reason: str | None) -> int:
    """Post again the rejected requests of a batch.

    After the master data they missed was imported."""
    from frontends.batchpost import replay as post_again

    reopened = post_again(database(), batch_id, reason)
    print(f"batch {batch_id}: {reopened} rejected request(s) sent to post again")
    return 0


@click.group()
def followups() -> None:
    """Follow-ups (reorder, loyalty, receipts) that failed."""


@followups.command("retry")
@click.option("--batch", "batch_id", type=BATCH_ID, help="only the failed follow-ups of this batch (default: all)")
def followups_retry(batch_id: int | None) -> int:
    """Run failed follow-ups again (after the cause was fixed).

    Their batches go back to POSTED, and to DONE once the follow-ups have run."""
    from frontends.batchpost import retry_follow_ups

    sent = retry_follow_ups(database(), batch_id)
    where = "" if batch_id is None else f"batch {batch_id}: "
    print(f"{where}{sent} failed follow-up(s) re-queued")
    return 0


COMMANDS = (post, batch, replay, followups)  # `report` (a batch's requests): `report ID`, in reports.py
