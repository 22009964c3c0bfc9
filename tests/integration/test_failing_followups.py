"""Follow-ups that fail for good: bounded attempts, recorded FAILED with their error, the batch in
ATTENTION naming them, `tillpost followups retry` once the cause is fixed; transient faults still pass.

The failures are made without intake (which refuses an impossible occurred_at): the sales post
while no worker takes follow-ups, then a sale is corrupted by SQL before its follow-ups run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from domain.followups.failures import retry_failed
from domain.followups.outbox import open_follow_ups, run_receipts
from domain.tables import FollowUp, Receipt, Sale
from tests.batch_support import ROOT, batch_state, tillpost, tillpost_json, wait_for_state, write_jsonl
from tests.followup_support import follow_up, post
from tests.shop import make_shop, sale
from tests.workers import wait_until

pytestmark = pytest.mark.pipeline

NO_FOLLOW_UPS = ["-X", "followups"]  # a worker that posts but leaves the follow-ups queued
YEAR_9999 = "9999-12-31 23:00:00+00"  # stored fine, but no receipt can show it in Asia/Singapore


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 100, "MUG": 100})
    return sessions


def day(count, prefix="A"):
    """`count` small card sales, every other one for the loyalty customer."""
    for n in range(count):
        extra = {"customer": "C001"} if n % 2 else {}
        yield sale(f"{prefix}-{n}", [("TEA", "2")], [("CARD", "9.00")], **extra)


def posted_but_not_followed_up(sessions, start_worker, env, path):
    """Post the file with a worker that takes no follow-ups; the batch id once it is POSTED."""
    posting_only = start_worker(concurrency=1, extra=NO_FOLLOW_UPS)
    batch_id = tillpost_json(env, "post", str(path), "--json")["id"]
    wait_for_state(sessions, batch_id, "POSTED")
    posting_only.stop()
    return batch_id


def set_occurred_at(sessions, request_id, value):
    with sessions.begin() as s:
        s.execute(update(Sale).where(Sale.request_id == request_id).values(occurred_at=text(f"'{value}'")))


def follow_up_rows(sessions, request_id=None):
    """{(request_id, kind): (done, failed, attempts, error)}."""
    query = select(
        Sale.request_id, FollowUp.kind, FollowUp.done_at, FollowUp.failed_at, FollowUp.attempts, FollowUp.error
    ).join(Sale, Sale.id == FollowUp.sale_id)
    if request_id is not None:
        query = query.where(Sale.request_id == request_id)
    with sessions() as s:
        return {(r, k): (done is not None, failed is not None, n, e) for r, k, done, failed, n, e in s.execute(query)}


def receipts_of(sessions):
    with sessions() as s:
        return set(s.scalars(select(Sale.request_id).join(Receipt, Receipt.sale_id == Sale.id)))


def test_a_receipt_that_keeps_failing_is_tried_a_bounded_number_of_times_and_the_batch_needs_attention(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given a posted batch of six sales whose follow-ups have not run, one of them dated year 9999
    path = write_jsonl(tmp_path / "day.jsonl", day(6))
    batch_id = posted_but_not_followed_up(sessions, start_worker, pipeline_env, path)
    set_occurred_at(sessions, "A-3", YEAR_9999)

    # When the follow-ups run on a real worker
    start_worker(concurrency=2)
    wait_until(
        lambda: batch_state(sessions, batch_id) in ("ATTENTION", "DONE"),
        timeout=120,
        what=f"batch {batch_id} to settle (it is {batch_state(sessions, batch_id)})",
    )

    # Then the receipt of A-3 is FAILED after a bounded number of attempts, with its error
    from services.followups import MAX_ATTEMPTS

    rows = follow_up_rows(sessions)
    done, failed, attempts, error = rows.pop(("A-3", "CUSTOMER_RECEIPT"))
    assert (done, failed, attempts) == (False, True, MAX_ATTEMPTS)
    assert error.startswith("OverflowError")
    # And every other follow-up of the batch ran, once
    assert {key: value[:3] for key, value in rows.items()} == dict.fromkeys(rows, (True, False, 0))
    assert receipts_of(sessions) == {f"A-{n}" for n in range(6)} - {"A-3"}
    # And the batch is in ATTENTION, and says which follow-up failed and why
    assert batch_state(sessions, batch_id) == "ATTENTION"
    document = tillpost_json(pipeline_env, "batch", "show", str(batch_id), "--json")
    with sessions() as s:
        number = s.scalar(select(Sale.transaction_number).where(Sale.request_id == "A-3"))
    (listed,) = document["failed_follow_ups"]
    assert listed["kind"] == "CUSTOMER_RECEIPT"
    assert (listed["sale"], listed["request_id"], listed["attempts"]) == (number, "A-3", MAX_ATTEMPTS)
    assert listed["error"] == error
    shown = tillpost(pipeline_env, "batch", "show", str(batch_id))
    assert shown.returncode == 0, shown.stderr
    assert "ATTENTION" in shown.stdout and "CUSTOMER_RECEIPT" in shown.stdout and number in shown.stdout


def test_post_wait_names_the_failed_follow_up_and_followups_retry_takes_the_batch_to_done(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given `post --wait` of a batch whose follow-ups cannot run yet
    posting_only = start_worker(concurrency=1, extra=NO_FOLLOW_UPS)
    path = write_jsonl(tmp_path / "day.jsonl", day(3, prefix="W"))
    waiting = subprocess.Popen(
        [sys.executable, "-m", "frontends.cli", "post", str(path), "--wait", "--timeout", "150"],
        env=pipeline_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    wait_until(lambda: _batch_of(sessions) is not None, timeout=60, what="the batch to be staged")
    batch_id = _batch_of(sessions)
    wait_for_state(sessions, batch_id, "POSTED")
    posting_only.stop()
    # And one sale's date that no receipt can show
    set_occurred_at(sessions, "W-1", YEAR_9999)

    # When the follow-ups run
    start_worker(concurrency=2)
    out, err = waiting.communicate(timeout=170)

    # Then `post --wait` ends at ATTENTION, exits 1, and names the failed follow-up
    assert waiting.returncode == 1, err
    assert batch_state(sessions, batch_id) == "ATTENTION"
    assert "ATTENTION" in out and "CUSTOMER_RECEIPT" in out and "W-1" in out and "OverflowError" in out

    # When the cause is fixed and the failed follow-ups are retried
    set_occurred_at(sessions, "W-1", "2025-03-01 02:15:00+00")
    retried = tillpost(pipeline_env, "followups", "retry", "--batch", str(batch_id))

    # Then they are re-queued, run, and the batch reaches DONE with every receipt
    assert retried.returncode == 0, retried.stderr
    assert "1 failed follow-up" in retried.stdout
    wait_for_state(sessions, batch_id, "DONE")
    assert receipts_of(sessions) == {"W-0", "W-1", "W-2"}
    assert follow_up_rows(sessions, "W-1")[("W-1", "CUSTOMER_RECEIPT")] == (True, False, 0, None)
    assert tillpost_json(pipeline_env, "batch", "show", str(batch_id), "--json")["failed_follow_ups"] == []


def _batch_of(sessions):
    with sessions() as s:
        return s.scalar(text("SELECT max(id) FROM batches"))


def test_a_transient_fault_in_a_follow_up_is_retried_until_it_passes_and_never_counts_as_an_attempt(
    shop, start_worker, pipeline_env
):
    from tasks.messages import send_follow_ups as enqueue_follow_ups

    sessions = shop
    # Given a posted sale whose receipt row is locked by someone else, so its worker waits
    sale_id = post(sessions, sale("T-1", [("TEA", "2")], [("CARD", "9.00")]))
    worker = start_worker(concurrency=1)
    holder = sessions()
    holder.execute(select(FollowUp).where(FollowUp.sale_id == sale_id).with_for_update())
    enqueue_follow_ups([sale_id], kinds=("CUSTOMER_RECEIPT",))

    # When every wait of the worker is cancelled until the task itself has had to retry
    def cancel_the_waiting_worker():
        with sessions() as s:
            s.execute(
                text(
                    "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
            )
        return "Retry in" in worker.log.read_text()

    wait_until(cancel_the_waiting_worker, timeout=90, interval=0.05, what="the task to retry a transient fault")
    holder.rollback()
    holder.close()

    # Then the receipt is made, and no attempt was counted against it
    wait_until(lambda: receipts_of(sessions) == {"T-1"}, timeout=60, what="the receipt after the fault passed")
    assert follow_up_rows(sessions, "T-1")[("T-1", "CUSTOMER_RECEIPT")] == (True, False, 0, None)


def test_failed_follow_ups_never_fill_the_sweepers_window_and_a_fresh_one_is_still_swept(
    shop, start_worker, pipeline_env, monkeypatch
):
    import services.sweeping
    import tasks.common
    import tasks.sweeper

    sessions = shop
    # Given three sales whose nine follow-ups failed for good, recorded before a fresh sale's
    failed = [post(sessions, sale(f"X-{n}", [("TEA", "1")], [("CARD", "4.50")])) for n in range(3)]
    with sessions.begin() as s:
        s.execute(
            update(FollowUp)
            .where(FollowUp.sale_id.in_(failed))
            .values(
                failed_at=func.now(),
                attempts=5,
                error="ValueError: broken",
                created_at=text("now() - interval '1 day'"),
            )
        )
    fresh = post(sessions, sale("N-1", [("TEA", "1")], [("CARD", "4.50")]))
    # And a sweeper whose window is smaller than the failed rows
    monkeypatch.setattr(services.sweeping, "LIMIT", 5)
    monkeypatch.setattr(tasks.common, "_connected", (os.getpid(), sessions))

    # Then its query leaves the failed rows out
    with sessions() as s:
        assert open_follow_ups(s, timedelta(0), 5) == {
            "LOYALTY": [fresh],
            "CUSTOMER_RECEIPT": [fresh],
            "REORDER": [fresh],
        }

    # When the sweep runs, with a real worker taking what it sends
    start_worker(concurrency=1)
    time.sleep(0.01)  # created_at must be in the past for older_than=0
    tasks.sweeper.sweep.apply(kwargs={"stale_after_seconds": 0}).get()

    # Then the fresh sale's follow-ups run, and the failed ones are left as they were
    wait_until(lambda: receipts_of(sessions) == {"N-1"}, timeout=60, what="the fresh sale to be followed up")
    wait_until(
        lambda: all(v[0] for k, v in follow_up_rows(sessions, "N-1").items()), timeout=60, what="every follow-up"
    )
    for n in range(3):
        rows = follow_up_rows(sessions, f"X-{n}")
        assert set(rows.values()) == {(False, True, 5, "ValueError: broken")}


def test_a_receipt_is_never_issued_without_the_points_of_a_sale_whose_loyalty_failed(shop):
    sessions = shop
    # Given a customer's sale whose loyalty follow-up failed for good
    sale_id = post(sessions, sale("L-1", [("TEA", "4")], [("CARD", "18.00")], customer="C001"))
    with sessions.begin() as s:
        s.execute(
            update(FollowUp)
            .where(FollowUp.sale_id == sale_id, FollowUp.kind == "LOYALTY")
            .values(failed_at=func.now(), attempts=5, error="ValueError: broken")
        )

    # When its receipt runs
    assert follow_up(sessions, run_receipts, [sale_id]) == 0

    # Then no receipt is issued, and the receipt is failed too, saying why
    assert receipts_of(sessions) == set()
    done, failed, _, error = follow_up_rows(sessions, "L-1")[("L-1", "CUSTOMER_RECEIPT")]
    assert (done, failed) == (False, True)
    assert "LOYALTY" in error


def test_retry_without_a_batch_reopens_every_failed_follow_up_and_moves_its_batch_back_to_posted(shop):
    sessions = shop
    # Given a sale of a batch in ATTENTION and a sale submitted alone, each with a failed follow-up
    in_batch = post(sessions, sale("R-1", [("TEA", "1")], [("CARD", "4.50")]))
    alone = post(sessions, sale("R-2", [("TEA", "1")], [("CARD", "4.50")]))
    with sessions.begin() as s:
        batch_id = s.scalar(
            text("INSERT INTO batches (source, digest, state) VALUES ('day', 'x', 'ATTENTION') RETURNING id")
        )
        s.execute(update(Sale).where(Sale.id == in_batch).values(batch_id=batch_id))
        s.execute(update(FollowUp).where(FollowUp.kind == "REORDER").values(done_at=func.now()))
        s.execute(
            update(FollowUp)
            .where(FollowUp.kind != "REORDER")
            .values(failed_at=func.now(), attempts=5, error="ValueError: broken")
        )

    # When every failed follow-up is retried
    with sessions.begin() as s:
        reopened = retry_failed(s)

    # Then each is open again with no attempts counted, and the batch waits for them (POSTED)
    assert reopened == {"LOYALTY": [in_batch, alone], "CUSTOMER_RECEIPT": [in_batch, alone]}
    rows = {**follow_up_rows(sessions, "R-1"), **follow_up_rows(sessions, "R-2")}
    assert {k: v for k, v in rows.items() if k[1] != "REORDER"} == dict.fromkeys(
        [("R-1", "LOYALTY"), ("R-1", "CUSTOMER_RECEIPT"), ("R-2", "LOYALTY"), ("R-2", "CUSTOMER_RECEIPT")],
        (False, False, 0, None),
    )
    assert batch_state(sessions, batch_id) == "POSTED"
