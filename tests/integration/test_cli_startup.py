"""`tillpost batch show` is polled (a new process each time) while a batch posts: it must start
cheaply, importing neither Celery, the HTTP intake, pydantic nor the ORM; and `--watch` shows the
batch from one process until it is DONE."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import select

from domain.batches.entries import Entry
from domain.tables import SaleRequestRow
from domain.vocabulary import FollowUpKind
from services.batches import stage_batch
from services.followups import run_follow_up
from services.posting import post_chunk
from tests.batch_support import ROOT, tillpost
from tests.shop import make_shop, sale
from tests.workers import wait_until

NOT_FOR_A_READ = ("celery", "kombu", "fastapi", "uvicorn", "starlette", "pydantic", "sqlalchemy.orm", "domain.tables")
MODULES_AFTER = """
import json, sys
from frontends.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def staged_batch(db, name: str, count: int = 3) -> int:
    entries = [Entry(n + 1, sale(f"{name}-{n}", [("TEA", "1")], [("CASH", "4.50")])) for n in range(count)]
    return stage_batch(db, name, name, lambda: entries).batch_id


def post_and_follow_up(db, batch_id: int) -> None:
    query = select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id).order_by(SaleRequestRow.id)
    posted = post_chunk(db, db.read(lambda s: list(s.scalars(query))))
    for kind in (FollowUpKind.REORDER, FollowUpKind.LOYALTY, FollowUpKind.CUSTOMER_RECEIPT):
        run_follow_up(db, kind, posted.new_sales)


def modules_of(env: dict[str, str], *args: str) -> tuple[int, set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stderr.splitlines()[-1])
    return report["status"], set(report["modules"]), done.stdout


def test_batch_show_and_list_import_no_celery_web_server_pydantic_or_orm(sessions, pipeline_env):
    # Given a staged batch
    with sessions.begin() as s:
        make_shop(s)
    batch_id = staged_batch(sessions, "startup")

    for args in (("batch", "show", str(batch_id)), ("batch", "show", str(batch_id), "--json"), ("batch", "list")):
        # When the command runs in a process of its own
        status, modules, out = modules_of(pipeline_env, *args)

        # Then it showed the batch, and imported nothing a read does not need
        assert status == 0 and str(batch_id) in out
        assert [m for m in modules if m.startswith(NOT_FOR_A_READ)] == [], args


def test_watch_shows_the_batch_until_it_is_done_one_json_line_each_time(sessions, pipeline_env):
    # Given a staged batch that no worker posts, watched every 0.2 s
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
    batch_id = staged_batch(sessions, "watched")
    watcher = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "batch", "show", str(batch_id), "--watch", "0.2", "--json"],
        env=pipeline_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(watcher.stdout.readline())
        assert (first["id"], first["state"], first["counts"]["PENDING"]) == (batch_id, "RECEIVED", 3)

        # When the batch is posted and its follow-ups run
        post_and_follow_up(sessions, batch_id)

        # Then the watch ends by itself (exit 0), its last line the DONE batch with its figures
        wait_until(lambda: watcher.poll() is not None, timeout=60, what="the watch to end")
        lines = [json.loads(line) for line in watcher.stdout.read().splitlines()]
        assert watcher.returncode == 0, watcher.stderr.read()
    finally:
        watcher.kill()
        watcher.wait()
    last = lines[-1]
    assert last["state"] == "DONE" and last["counts"]["POSTED"] == 3 and last["totals"]["sales"] == "13.50"
    assert all(line["state"] != "DONE" for line in lines[:-1])


def test_watch_for_people_prints_the_summary_and_ends_on_a_done_batch(sessions, pipeline_env):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
    batch_id = staged_batch(sessions, "done")
    post_and_follow_up(sessions, batch_id)

    watched = tillpost(pipeline_env, "batch", "show", str(batch_id), "--watch")

    assert watched.returncode == 0, watched.stderr
    assert f"batch {batch_id}  DONE  3 requests" in watched.stdout
    assert "outcomes: POSTED 3" in watched.stdout and "sales 13.50" in watched.stdout
