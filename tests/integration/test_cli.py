"""The command line as shops script it: real processes, real services (../shared/CLI.md)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.batch_support import start_tillpost, tillpost
from tests.shop import make_shop, sale
from tests.workers import flower_get, free_port, wait_until

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[2]
SALE_KEYS = {
    "request_id",
    "outcome",
    "reason",
    "message",
    "transaction_number",
    "subtotal",
    "tax",
    "rounding_adjustment",
    "total",
    "change_due",
    "points_earned",
}


def test_submit_wait_json_gives_each_submission_its_own_outcome(sessions, start_worker, pipeline_env, tmp_path):
    # Given a shop and a worker
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
    start_worker(concurrency=1)
    first = tmp_path / "sale.json"
    first.write_text(json.dumps(sale("S-1", [("TEA", "2")], [("CASH", "10.00")])))

    # When the sale is submitted and waited for
    posted = tillpost(pipeline_env, "submit", str(first), "--wait", "--json")

    # Then the one document carries every key of `sale show --json`, POSTED with cash rounding and change
    assert posted.returncode == 0, posted.stderr
    (doc,) = json.loads(posted.stdout)
    assert set(doc) >= SALE_KEYS
    assert (doc["outcome"], doc["total"], doc["change_due"], doc["rounding_adjustment"]) == (
        "POSTED",
        "9.00",
        "1.00",
        "0.00",
    )

    # When the same request is resubmitted alongside a changed copy of it
    again = tmp_path / "again.json"
    changed = sale("S-1", [("TEA", "1")], [("CASH", "5.00")])
    again.write_text(json.dumps([json.loads(first.read_text()), changed]))
    resubmitted = tillpost(pipeline_env, "submit", str(again), "--wait", "--json")

    # Then this submission shows DUPLICATE then CONFLICT, while `sale show` keeps the original
    assert [d["outcome"] for d in json.loads(resubmitted.stdout)] == ["DUPLICATE", "CONFLICT"]
    shown = json.loads(tillpost(pipeline_env, "sale", "show", "S-1", "--json").stdout)
    assert (shown["outcome"], shown["total"]) == ("POSTED", "9.00")


def test_bad_input_exits_2_naming_the_problem(pipeline_env, tmp_path, sessions):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = tillpost(pipeline_env, "submit", str(broken))
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    missing = tillpost(pipeline_env, "import", "products", str(tmp_path / "nope.csv"))
    assert missing.returncode == 2 and "nope.csv" in missing.stderr


def test_unknown_request_exits_1(pipeline_env, sessions):
    result = tillpost(pipeline_env, "sale", "show", "NEVER-SENT")
    assert result.returncode == 1
    assert "NEVER-SENT" in result.stderr


def _group_alive(pgid: int) -> bool:
    """Any live (not zombie) process left in the group?"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def test_up_starts_workers_and_flower_and_sigterm_leaves_no_orphan(sessions, pipeline_env, tmp_path):
    # Given `tillpost up` with one worker and Flower on a free port
    port = free_port()
    up = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "up", "--workers", "1", "--no-intake", "--flower-port", str(port)],
        env=pipeline_env,
        cwd=ROOT,
        start_new_session=True,
        stdout=(tmp_path / "up.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        # Then Flower answers and sees the worker
        def workers_seen():
            try:  # with the password `up` generated in TILLPOST_HOME
                login = (Path(pipeline_env["TILLPOST_HOME"]) / "flower-auth").read_text().strip()
                return flower_get(port, "/api/workers?refresh=1", auth=login)
            except OSError:
                return None

        assert wait_until(workers_seen, timeout=90, what="Flower to list the worker")
        children = subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 3  # the worker, beat and Flower, each the leader of its own process group
    finally:
        # When it gets SIGTERM
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    # Then every process it started is gone (worker pool included), not merely asked to go
    wait_until(
        lambda: not [pid for pid in children if _group_alive(int(pid))],
        timeout=30,
        what="every process `up` started to exit",
    )


def test_batch_report_lists_every_request_in_file_order_with_line_numbers(sessions, pipeline_env, tmp_path):
    # Given a staged batch (no worker running) with a line that is not JSON
    with sessions.begin() as s:
        make_shop(s)
    day = tmp_path / "day.jsonl"
    good = json.dumps(sale("B-1", [("TEA", "1")], [("CASH", "4.50")]))
    day.write_text(good + "\n" + '{"request_id": "B-2", "lines": [\n' + "\n" + good.replace("B-1", "B-3") + "\n")
    posted = tillpost(pipeline_env, "post", str(day), "--json")
    assert posted.returncode == 0, posted.stderr
    batch = json.loads(posted.stdout)
    assert batch["state"] == "RECEIVED" and batch["requests"] == 3

    # When its report is asked for
    report = tillpost(pipeline_env, "report", str(batch["id"]))

    # Then each request appears once, in file order, the broken line INVALID with its line number
    lines = report.stdout.splitlines()
    assert lines[0] == "line_no,request_id,outcome,reason,message,transaction_number,total"
    assert [row.split(",")[:4] for row in lines[1:]] == [
        ["1", "B-1", "PENDING", ""],
        ["2", "", "REJECTED", "INVALID"],
        ["4", "B-3", "PENDING", ""],
    ]
    assert "line 2: not valid JSON" in lines[2]


def test_worker_passes_every_extra_argument_to_celery(pipeline_env, tmp_path, sessions):
    # When `tillpost worker` is given Celery's own options
    log = tmp_path / "worker.log"
    worker = start_tillpost(pipeline_env, log, "worker", "--concurrency", "1", "-n", "cli-test@%h")
    try:
        # Then Celery takes them: the worker comes up under that name with one pool process
        wait_until(
            lambda: "cli-test@" in log.read_text() and " ready." in log.read_text(),
            timeout=60,
            what=f"the worker to start:\n{log.read_text()[-2000:] if log.exists() else ''}",
        )
        assert "concurrency: 1 (prefork)" in log.read_text()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)


def test_the_demos_summary_says_it_runs_no_sweeper_instead_of_warning_that_it_is_overdue(sessions, pipeline_env):
    # Given a ledger whose sweeper never ran (the demo starts workers, not beat)
    # When the demo runs and prints its summary for people
    result = tillpost(pipeline_env, "demo", "--sales", "30", "--workers", "1", timeout=300)

    # Then the batch is done and the summary says the demo runs no sweeper, with no alarm
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DONE" in result.stdout and "reconciled: yes" in result.stdout
    assert "sweeper: none in the demo" in result.stdout
    assert "OVERDUE" not in result.stdout and "never run" not in result.stdout
    # And `batch show` afterwards still warns, since nothing sweeps: the demo hides nothing
    batch_id = re.search(r"^batch (\d+) ", result.stdout, re.MULTILINE)
    assert batch_id is not None, result.stdout
    shown = tillpost(pipeline_env, "batch", "show", batch_id[1])
    assert "sweeper has never run" in shown.stdout and "OVERDUE" in shown.stdout
