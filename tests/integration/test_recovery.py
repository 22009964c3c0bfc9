"""Recovery that does not hang on one process: the sweeper leaves a heartbeat, runs one at a time,
and a worker sweeps by itself when beat is gone; `--wait` asks for a sweep when progress stalls,
says when no worker consumes the posting queue, has a default timeout, and Ctrl-C leaves quietly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select, text, update

from domain.tables import Batch, Heartbeat
from tests.batch_support import posted_count, tillpost, tillpost_json, wait_for_state, write_jsonl
from tests.integration.test_faults import assert_whole, post, small_sales
from tests.shop import make_shop, sale
from tests.workers import redis_client, wait_until

pytestmark = pytest.mark.pipeline
ROOT = Path(__file__).resolve().parents[2]
FAST = {"TILLPOST_STALE_AFTER": "3", "TILLPOST_SWEEP_INTERVAL": "2"}


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10_000, "MUG": 10_000, "BOOK": 10_000})
    return sessions


def sweeper_heartbeat(sessions):
    with sessions() as s:
        row = s.get(Heartbeat, "sweeper")
        return (row.at, row.details) if row is not None else None


def background(env, tmp_path, name, *args):
    """A `tillpost` command left running, its stdout and stderr in files."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    process = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", *args],
        env=env,
        cwd=ROOT,
        start_new_session=True,
        stdout=out.open("w"),
        stderr=err.open("w"),
    )
    return process, out, err


def start_beat(env, tmp_path):
    log = tmp_path / "beat.log"
    command = [sys.executable, "-m", "celery", "-A", "workers.app", "beat", "--loglevel", "INFO"]
    command += ["--schedule", str(tmp_path / "beat-schedule")]
    process = subprocess.Popen(
        command, env=env, cwd=ROOT, start_new_session=True, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    return process, log


def latest_batch(sessions):
    with sessions() as s:
        return s.scalar(select(func.max(Batch.id)))


def test_a_sweep_leaves_a_heartbeat_saying_what_it_swept(shop, start_worker, pipeline_env, broker_url, tmp_path):
    from tasks.sweeper import sweep

    sessions = shop
    # Given five requests recorded whose messages were lost before any worker ran
    batch_id = post(pipeline_env, tmp_path, 5)
    redis_client(broker_url).flushdb()
    start_worker(concurrency=1)

    # When a sweep runs
    sweep.delay(stale_after_seconds=0, by="test")

    # Then it leaves the heartbeat row "sweeper": when, who, and what it sent again; and the batch ends
    _, details = wait_until(lambda: sweeper_heartbeat(sessions), what="the sweeper's heartbeat")
    assert (details["by"], details["requests"]) == ("test", 5)
    wait_for_state(sessions, batch_id, "DONE", timeout=60)


def test_only_one_sweep_runs_at_a_time(shop, start_worker, pipeline_env, tmp_path):
    from domain.heartbeat import claim
    from tasks.sweeper import sweep

    sessions = shop
    worker = start_worker(concurrency=1)
    # Given a sweep in progress elsewhere (its lock held)
    with sessions.begin() as holder:
        assert claim(holder, "sweeper")

        # When another sweep is asked for
        sweep.delay(stale_after_seconds=0, by="second")

        # Then it does not wait for the lock: it gives up at once and leaves no heartbeat
        wait_until(lambda: "another sweep is running" in worker.log.read_text(), what="the second sweep to give up")
        assert sweeper_heartbeat(sessions) is None

    # And once the first is over, the next sweep runs
    sweep.delay(stale_after_seconds=0, by="third")
    wait_until(lambda: sweeper_heartbeat(sessions), what="the third sweep's heartbeat")


def test_a_worker_sweeps_by_itself_when_beat_is_killed_and_the_broker_flushed(
    shop, start_worker, pipeline_env, broker_url, tmp_path
):
    sessions = shop
    pipeline_env.update(FAST)
    # Given a worker and beat (the sweeper's clock) posting a batch of 3000 sales
    start_worker(concurrency=2)
    beat, beat_log = start_beat(pipeline_env, tmp_path)
    try:
        wait_until(lambda: "Sending due task" in beat_log.read_text(), timeout=60, what="beat to send a sweep")
        batch_id = post(pipeline_env, tmp_path, 3000)
        wait_until(lambda: posted_count(sessions, batch_id) >= 300, timeout=120, what="300 sales to post")

        # When beat is SIGKILLed and every queued message is lost a moment later
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait()
        redis_client(broker_url).flushdb()
        assert posted_count(sessions, batch_id) < 3000, "the batch finished before the flush: nothing was tested"
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)

    # Then the worker notices the sweeper is overdue, sweeps by itself, and the batch ends whole
    wait_for_state(sessions, batch_id, "DONE", timeout=150)
    assert_whole(sessions, pipeline_env, batch_id, 3000)
    assert sweeper_heartbeat(sessions)[1]["by"].startswith("worker ")


def test_post_wait_asks_for_a_sweep_when_progress_stalls(shop, start_worker, pipeline_env, broker_url, tmp_path):
    sessions = shop
    # Given a worker that would not sweep by itself for an hour, and no beat
    pipeline_env.update(TILLPOST_STALE_AFTER="3", TILLPOST_SWEEP_INTERVAL="3600")
    start_worker(concurrency=2)
    path = write_jsonl(tmp_path / "day.jsonl", small_sales(3000, "W"))
    waiting, out, err = background(pipeline_env, tmp_path, "post", "post", str(path), "--wait", "--json")
    try:
        wait_until(lambda: latest_batch(sessions), what="the batch to be staged")
        batch_id = latest_batch(sessions)
        wait_until(lambda: posted_count(sessions, batch_id) >= 300, timeout=120, what="300 sales to post")

        # When every queued message is lost while `post --wait` watches
        redis_client(broker_url).flushdb()
        assert posted_count(sessions, batch_id) < 3000, "the batch finished before the flush: nothing was tested"

        # Then the wait notices the stall, asks for a sweep, and ends with the batch DONE
        assert waiting.wait(timeout=150) == 0, err.read_text()[-3000:]
    finally:
        if waiting.poll() is None:
            os.killpg(waiting.pid, signal.SIGKILL)
    assert "asked the workers for a sweep" in err.read_text()
    assert json.loads(out.read_text())["state"] == "DONE"
    assert_whole(sessions, pipeline_env, batch_id, 3000)


@pytest.mark.parametrize("command", ["post", "submit"])
def test_wait_says_when_no_worker_consumes_the_posting_queue_and_that_it_timed_out(
    command, shop, pipeline_env, tmp_path
):
    # Given no worker running
    if command == "post":
        path = write_jsonl(tmp_path / "day.jsonl", small_sales(3, "N"))
    else:
        path = tmp_path / "sale.json"
        path.write_text(json.dumps(sale("N-1", [("TEA", "1")], [("CARD", "4.50")])))

    # When a request is sent and waited for, a few seconds at most
    waited = tillpost(pipeline_env, command, str(path), "--wait", "--timeout", "6", timeout=60)

    # Then it says nobody consumes the posting queue and how to start a worker, and that it timed out
    assert waited.returncode == 1, waited.stderr
    assert "no worker is consuming the posting queue" in waited.stderr
    assert "tillpost worker" in waited.stderr and "tillpost up" in waited.stderr
    assert "timed out after 6 s" in waited.stderr
    assert "Traceback" not in waited.stderr
    if command == "post":
        assert f"tillpost batch show {latest_batch(shop)}" in waited.stderr


@pytest.mark.parametrize("command", ["post", "submit"])
def test_wait_has_a_default_timeout_of_an_hour(command, capsys):
    from frontends.cli import tillpost

    assert tillpost.get_command(None, command).make_context(command, ["file", "--wait"]).params["timeout"] == 3600
    with pytest.raises(SystemExit):
        tillpost.main([command, "--help"])
    assert "default 3600 s" in " ".join(capsys.readouterr().out.split())


def test_ctrl_c_while_waiting_says_the_batch_keeps_posting(shop, pipeline_env, tmp_path):
    # Given `post --wait` waiting on a batch (no worker running)
    path = write_jsonl(tmp_path / "day.jsonl", small_sales(3, "C"))
    waiting, out, err = background(pipeline_env, tmp_path, "post", "post", str(path), "--wait")
    try:
        wait_until(lambda: "batch " in out.read_text(), timeout=60, what="the batch id to be printed")
        batch_id = latest_batch(shop)

        # When the user presses Ctrl-C
        waiting.send_signal(signal.SIGINT)

        # Then it exits 130 saying the batch keeps posting and how to watch it, without a traceback
        # (not killed by its own SIGINT: tests/unit/test_ctrl_c.py has the cause).
        assert waiting.wait(timeout=30) == 130
    finally:
        if waiting.poll() is None:
            os.killpg(waiting.pid, signal.SIGKILL)
    said = err.read_text()
    assert "keeps posting" in said and f"tillpost batch show {batch_id}" in said
    assert "Traceback" not in said


def test_batch_show_and_check_say_when_the_sweeper_last_ran_and_warn_when_overdue(shop, pipeline_env, tmp_path):
    sessions = shop
    # Given a staged batch and a sweeper that never ran
    batch_id = post(pipeline_env, tmp_path, 3)
    never = tillpost_json(pipeline_env, "batch", "show", str(batch_id), "--json")["sweeper"]
    assert (never["last_run"], never["overdue"]) == (None, True)

    # When the sweeper last ran ten minutes ago (it runs every 30 s)
    with sessions.begin() as s:
        s.add(Heartbeat(name="sweeper", details={"by": "beat", "every": 30, "requests": 0, "follow_ups": 0}))
        s.flush()
        s.execute(update(Heartbeat).values(at=func.now() - text("interval '10 minutes'")))

    # Then batch show (JSON and text) and check say when, and warn that it is overdue
    late = tillpost_json(pipeline_env, "batch", "show", str(batch_id), "--json")["sweeper"]
    assert late["overdue"] is True and late["by"] == "beat" and late["last_run"] is not None
    shown = tillpost(pipeline_env, "batch", "show", str(batch_id))
    assert "sweeper last ran 10 min ago (beat)" in shown.stdout and "OVERDUE" in shown.stdout
    checked = tillpost(pipeline_env, "check")
    assert checked.returncode == 0, checked.stderr
    assert "sweeper last ran 10 min ago (beat)" in checked.stdout and "OVERDUE" in checked.stdout

    # When it has just run, neither warns
    with sessions.begin() as s:
        s.execute(update(Heartbeat).values(at=func.now()))
    fresh = tillpost_json(pipeline_env, "batch", "show", str(batch_id), "--json")["sweeper"]
    assert fresh["overdue"] is False
    assert "OVERDUE" not in tillpost(pipeline_env, "check").stdout
