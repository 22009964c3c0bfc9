"""`tillpost up` supervises what it starts: a child that dies is started again with a line saying so,
a child that keeps crashing stops everything with the reason, and a worker SIGKILLed mid-batch (its
messages flushed from Redis too) is replaced and the batch still ends whole."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from domain.tables import Batch
from tests.batch_support import posted_count, start_tillpost, wait_for_state
from tests.intake_support import KEY, answers, bearer, intake_env, outcome_of
from tests.integration.test_faults import assert_whole, post
from tests.shop import make_shop, sale
from tests.workers import free_port, redis_client, wait_until

ROOT = Path(__file__).resolve().parents[2]
CRASHER = [sys.executable, "-c", "import sys; sys.exit(3)"]


def sleeper(marker: str) -> list[str]:
    """A child that runs until it is stopped, findable afterwards by its `marker` argument."""
    return [sys.executable, "-c", "import time; time.sleep(600)", marker]


def alive(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line carries `marker`."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if marker in (proc / "cmdline").read_bytes().decode() and state != "Z":
                found.append(int(proc.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def supervise(tmp_path: Path, commands: list[tuple[str, list[str]]]) -> tuple[subprocess.Popen[bytes], Path]:
    """`processes.run_all(commands)` in a process of its own, as `tillpost up` runs it."""
    log = tmp_path / "up.log"
    script = f"import sys; from frontends.processes import run_all; sys.exit(run_all({commands!r}, grace=5))"
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        start_new_session=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, log


def children(pid: int) -> dict[int, str]:
    """{pid: command line} of the processes `pid` started."""
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    found = {}
    for child in out:
        try:
            found[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            continue
    return found


def test_a_child_that_dies_is_started_again_with_a_line_saying_so(tmp_path):
    # Given two long-running children under supervision
    marker = f"sleeper-{uuid.uuid4().hex}"
    up, log = supervise(tmp_path, [("sleeper", sleeper(marker)), ("other", sleeper(marker))])
    try:
        first = wait_until(lambda: len(children(up.pid)) == 2 and children(up.pid), what="both children to start")

        # When one of them is SIGKILLed
        victim = min(first)
        os.kill(victim, signal.SIGKILL)

        # Then it is started again, and `up` says so
        wait_until(lambda: "exited with -9; restarting (1/5 in the last 60 s)" in log.read_text(), what="the line")
        again = wait_until(
            lambda: len(children(up.pid)) == 2 and victim not in children(up.pid) and children(up.pid),
            what="a new child in place of the killed one",
        )
        assert max(first) in again
    finally:
        # And SIGTERM still stops everything, with exit status 0
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=30) == 0, log.read_text()
    assert alive(marker) == []


def test_a_child_that_keeps_crashing_stops_everything_with_the_reason(tmp_path):
    # Given a child that exits at once every time it starts, beside a healthy one
    marker = f"sleeper-{uuid.uuid4().hex}"
    up, log = supervise(tmp_path, [("crasher", CRASHER), ("sleeper", sleeper(marker))])
    try:
        # Then `up` restarts it a bounded number of times, then stops everything and exits non-zero
        assert up.wait(timeout=60) == 1, log.read_text()
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
    text = log.read_text()
    assert "crasher exited with 3; restarting (5/5 in the last 60 s)" in text
    assert "crasher exited with 3 again: 5 restarts in the last 60 s; stopping everything" in text
    assert alive(marker) == []


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10_000, "MUG": 10_000, "BOOK": 10_000})
    return sessions


def test_up_replaces_a_worker_killed_mid_batch_and_the_batch_still_reaches_done(
    shop, pipeline_env, broker_url, tmp_path
):
    sessions = shop
    env = dict(pipeline_env, TILLPOST_STALE_AFTER="3", TILLPOST_SWEEP_INTERVAL="2")
    # Given `tillpost up` (a worker and beat, no Flower) posting a batch of 3000 sales
    log = tmp_path / "up.log"
    up = start_tillpost(env, log, "up", "--workers", "2", "--no-flower", "--no-intake")
    try:
        batch_id = post(env, tmp_path, 3000)
        wait_until(lambda: posted_count(sessions, batch_id) >= 300, timeout=120, what="300 sales to post")

        # When the worker's main process is SIGKILLed and every queued message is lost
        (worker,) = [pid for pid, command in children(up.pid).items() if " worker " in command]
        os.kill(worker, signal.SIGKILL)
        redis_client(broker_url).flushdb()
        assert posted_count(sessions, batch_id) < 3000, "the batch finished before the kill: nothing was tested"

        # Then `up` starts a new worker, says so, and the batch ends whole without anyone stepping in
        wait_until(lambda: "worker exited with -9; restarting" in log.read_text(), what="the restart line")
        wait_for_state(sessions, batch_id, "DONE", timeout=150)
        assert up.poll() is None, log.read_text()[-3000:]
    finally:
        up.send_signal(signal.SIGTERM)
        up.wait(timeout=60)
    assert_whole(sessions, env, batch_id, 3000)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 1


def test_up_starts_the_intake_on_its_port_and_no_intake_leaves_the_port_closed(shop, pipeline_env, tmp_path):
    env = intake_env(pipeline_env)
    # Given `tillpost up` with a worker and the intake on a free port
    port = free_port()
    log = tmp_path / "up.log"
    up = start_tillpost(env, log, "up", "--workers", "1", "--no-flower", "--intake-port", str(port))
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        wait_until(lambda: answers(client), timeout=90, what=f"the intake of `up` on port {port}")

        # When a sale is posted to it over HTTP, Then it is 202, then POSTED by up's worker
        reply = client.post("/v1/sales", json=sale("UP-1", [("TEA", "1")], [("CASH", "4.50")]), headers=bearer(KEY))
        assert reply.status_code == 202, reply.text
        wait_until(lambda: outcome_of(client, "UP-1") == "POSTED", timeout=60, what="UP-1 posted")
        client.close()
    finally:
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0, log.read_text()[-3000:]

    # Given `tillpost up --no-intake` on the same port, once its worker is ready
    log = tmp_path / "up-no-intake.log"
    up = start_tillpost(env, log, "up", "--workers", "1", "--no-flower", "--no-intake", "--intake-port", str(port))
    try:
        wait_until(lambda: " ready." in log.read_text(), timeout=90, what="the worker of `up --no-intake`")
        # Then nothing listens on the intake's port
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
        assert "HTTP intake" not in log.read_text()
    finally:
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0, log.read_text()[-3000:]
