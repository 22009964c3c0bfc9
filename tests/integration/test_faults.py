"""Faults in the middle of a batch: a worker SIGKILLed, Redis flushed, every database connection cut,
a message delivered twice. PostgreSQL is the record, so the batch still ends whole: every request
with exactly one outcome, no sale twice, stock equal to its movements, every follow-up run."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from domain.tables import FollowUp, LoyaltyEntry, Receipt, Sale, SaleRequestRow
from tests.batch_support import (
    batch_state,
    posted_count,
    requests_without_one_outcome,
    sales_and_posted_requests,
    stock_off_its_movements,
    tallied_and_counted,
    tillpost_json,
    write_jsonl,
)
from tests.shop import make_shop, sale
from tests.workers import redis_client, wait_until

pytestmark = pytest.mark.pipeline

PRICES = {"TEA": Decimal("4.50"), "MUG": Decimal("12.90"), "BOOK": Decimal("20.00"), "GIFTCARD": Decimal("50.00")}


def small_sales(count, prefix):
    """`count` one-line requests paid exactly by card, every tenth for a loyalty customer; every 25th from
    the 200th on returns the sale 190 lines before it (often in a range another worker holds)."""
    skus = list(PRICES)

    def line(n):
        sku, quantity = skus[n % len(skus)], 1 + n % 3
        return sku, quantity, str(PRICES[sku] * quantity)

    for n in range(count):
        extra = {"customer": "C001"} if n % 10 == 0 else {}
        if n >= 200 and n % 25 == 24:
            sku, quantity, amount = line(n - 190)
            extra.update(kind="return", original_request_id=f"{prefix}-{n - 190}")
        else:
            sku, quantity, amount = line(n)
        yield sale(f"{prefix}-{n}", [(sku, str(quantity))], [("CARD", amount)], **extra)


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10_000, "MUG": 10_000, "BOOK": 10_000})
    return sessions


def post(env, tmp_path, count, prefix="F"):
    path = write_jsonl(tmp_path / f"{prefix}.jsonl", small_sales(count, prefix))
    return tillpost_json(env, "post", str(path), "--json", timeout=120)["id"]


def sweep_until_done(sessions, batch_id, timeout=150):
    """Run the sweeper (on a worker, through the broker) whenever the queues are drained, until DONE."""
    from tasks.sweeper import queue_length, sweep
    from workers.app import app

    def done():
        if batch_state(sessions, batch_id) == "DONE":
            return True
        if queue_length(app, "posting") == 0 and queue_length(app, "followups") == 0:
            sweep.delay(stale_after_seconds=0)
        return False

    wait_until(done, timeout=timeout, interval=2.0, what=f"batch {batch_id} to be DONE")


def assert_whole(sessions, env, batch_id, count):
    """Every request one outcome (all POSTED, returns too: all are valid), nothing doubled, every follow-up run."""
    assert requests_without_one_outcome(sessions, batch_id) == []
    tallied, counted = tallied_and_counted(sessions, batch_id)
    assert tallied == counted and counted[("outcome", "POSTED")][0] == count
    with sessions() as s:
        not_posted = s.execute(
            select(SaleRequestRow.request_id, SaleRequestRow.outcome, SaleRequestRow.message).where(
                SaleRequestRow.batch_id == batch_id, SaleRequestRow.outcome != "POSTED"
            )
        ).all()
    assert not_posted == []
    sales, posted = sales_and_posted_requests(sessions)
    assert (sales, posted) == (count, count)
    assert stock_off_its_movements(sessions) == []
    with sessions() as s:
        open_follow_ups = s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.done_at.is_(None)))
        receipts = s.scalar(select(func.count()).select_from(Receipt))
        loyalty = s.scalar(select(func.count()).select_from(LoyaltyEntry))
        movements_per_sale = s.execute(
            text(
                "SELECT max(n), min(n) FROM (SELECT count(m.id) AS n FROM sales s "
                "JOIN sale_lines l ON l.sale_id = s.id "
                "JOIN products p ON p.id = l.product_id AND p.track_inventory "
                "LEFT JOIN stock_movements m ON m.sale_id = s.id GROUP BY s.id) per_sale"
            )
        ).one()
        with_customer = s.scalar(select(func.count()).select_from(Sale).where(Sale.customer_id.is_not(None)))
        returns = s.scalar(select(func.count()).select_from(Sale).where(Sale.kind == "return"))
    assert (open_follow_ups, receipts, loyalty, with_customer) == (0, count, count // 10, count // 10)
    assert returns == sum(1 for n in range(200, count) if n % 25 == 24)
    assert tuple(movements_per_sale) == (1, 1)
    document = tillpost_json(env, "batch", "show", str(batch_id), "--json")
    assert document["state"] == "DONE" and document["reconciled"] is True
    assert document["counts"] == {"POSTED": count, "DUPLICATE": 0, "CONFLICT": 0, "REJECTED": 0, "PENDING": 0}
    assert tillpost_json(env, "check", "--json") == {"ok": True, "violations": []}


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(shop, start_worker, pipeline_env, tmp_path):
    sessions = shop
    # Given a batch of 3000 sales being posted by a worker
    first = start_worker(concurrency=2)
    batch_id = post(pipeline_env, tmp_path, 3000)
    wait_until(lambda: posted_count(sessions, batch_id) >= 300, timeout=120, what="300 sales to post")

    # When the worker is SIGKILLed mid-batch, a fresh one starts, and the sweeper runs
    first.kill()
    assert posted_count(sessions, batch_id) < 3000, "the batch finished before the kill: nothing was tested"
    start_worker(concurrency=2)
    sweep_until_done(sessions, batch_id)

    # Then the batch is whole
    assert_whole(sessions, pipeline_env, batch_id, 3000)


def test_redis_flushed_mid_batch_is_made_good_from_postgresql(shop, start_worker, pipeline_env, broker_url, tmp_path):
    sessions = shop
    # Given a batch of 3000 sales being posted
    start_worker(concurrency=2)
    batch_id = post(pipeline_env, tmp_path, 3000)
    wait_until(lambda: posted_count(sessions, batch_id) >= 300, timeout=120, what="300 sales to post")

    # When every queued message is lost, and the sweeper runs
    redis_client(broker_url).flushdb()
    assert posted_count(sessions, batch_id) < 3000, "the batch finished before the flush: nothing was tested"
    sweep_until_done(sessions, batch_id)

    # Then the batch is whole
    assert_whole(sessions, pipeline_env, batch_id, 3000)


def test_database_connections_cut_mid_batch_are_retried_never_rejected(shop, start_worker, pipeline_env, tmp_path):
    sessions = shop
    # Given a batch of 3000 sales being posted
    start_worker(concurrency=2)
    batch_id = post(pipeline_env, tmp_path, 3000)

    # When every other connection to the database is terminated, five times while it posts
    cuts = 0
    for threshold in (150, 400, 650, 900, 1150):
        wait_until(lambda t=threshold: posted_count(sessions, batch_id) >= t, timeout=120, what=f"{threshold} posted")
        with sessions() as s:
            cut = s.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        cuts += 1 if cut else 0
        time.sleep(0.3)
    assert cuts == 5 and posted_count(sessions, batch_id) < 3000, "the cuts did not land mid-batch"

    # Then the workers retry: every sale posts (none REJECTED) and the batch is whole
    wait_until(
        lambda: batch_state(sessions, batch_id) in ("POSTED", "DONE"),
        timeout=150,
        what="every request to have an outcome, without the sweeper",
    )
    sweep_until_done(sessions, batch_id)
    assert_whole(sessions, pipeline_env, batch_id, 3000)


def test_a_range_delivered_twice_posts_each_sale_once(shop, start_worker, pipeline_env, tmp_path):
    from tasks.batches import post_batch_range

    sessions = shop
    # Given a batch staged and queued with no worker running
    batch_id = post(pipeline_env, tmp_path, 600)
    with sessions() as s:
        first, last = s.execute(
            select(func.min(SaleRequestRow.id), func.max(SaleRequestRow.id)).where(SaleRequestRow.batch_id == batch_id)
        ).one()

    # When the whole batch's range is delivered twice more, and workers take all three deliveries at once
    post_batch_range.delay(batch_id, first, last)
    post_batch_range.delay(batch_id, first, last)
    start_worker(concurrency=2)
    start_worker(concurrency=2)
    wait_until(lambda: batch_state(sessions, batch_id) == "DONE", timeout=120, what="the batch to be DONE")

    # Then each sale posted once, with one of everything
    assert_whole(sessions, pipeline_env, batch_id, 600)
    with sessions() as s:
        assert s.scalar(select(func.count(func.distinct(Sale.request_id)))) == 600
