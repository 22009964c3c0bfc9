"""The pipeline end to end: real worker processes, real Redis broker, real PostgreSQL."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from domain.tables import FollowUp, LoyaltyEntry, Receipt, ReorderSuggestion, Sale, StockMovement
from frontends.ledger import Ledger
from tests.batch_support import tillpost
from tests.shop import make_shop, sale
from tests.workers import flower_get, free_port, start_flower, wait_until

pytestmark = pytest.mark.pipeline


def all_follow_ups_done(sessions):
    with sessions() as s:
        total = s.scalar(select(func.count()).select_from(FollowUp))
        open_ = s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.done_at.is_(None)))
        return total > 0 and open_ == 0


def test_workers_post_sales_and_run_every_follow_up(sessions, start_worker):
    # Given a shop with a mug close to its reorder point, and two real worker processes
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 50, "MUG": 6})
    start_worker(concurrency=2)
    ledger = Ledger(sessions)

    # When three sales are submitted, one for a loyalty customer and one that takes the mugs low
    ids = ledger.submit(
        [
            sale("P-1", [("TEA", "2")], [("CASH", "9.00")]),
            sale("P-2", [("MUG", "3")], [("CARD", "38.70")], customer="C001"),
            sale("P-3", [("BOOK", "1"), ("TEA", "1")], [("NETS", "24.50")]),
        ]
    )
    assert ledger.wait(ids, timeout=60)
    wait_until(lambda: all_follow_ups_done(sessions), what="follow-ups to run")

    # Then every sale posted, moved stock, earned points, made a receipt and a reorder suggestion
    assert [o["outcome"] for o in ledger.outcomes(ids)] == ["POSTED", "POSTED", "POSTED"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.kind == "SALE")) == 4
        assert s.scalars(select(LoyaltyEntry.points)).all() == [3]  # floor(38.70 / 10)
        assert s.scalar(select(func.count()).select_from(Receipt)) == 3
        suggestion = s.execute(select(ReorderSuggestion.on_hand, ReorderSuggestion.suggested_quantity)).one()
        assert suggestion == (Decimal(3), Decimal(17))  # mug: 6 - 3 on hand, target 20
    outcome = ledger.outcomes([ids[1]])[0]
    assert outcome["points_earned"] == 3 and outcome["total"] == "38.70"


def test_flower_sees_the_posting_task_and_its_follow_ups_succeed(sessions, start_worker, pipeline_env, tmp_path):
    # Given Flower watching the same broker as a real worker
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 50})
    port = free_port()
    flower = start_flower(pipeline_env, tmp_path, port)
    try:
        start_worker(concurrency=1)
        wait_until(lambda: _flower_workers(port), timeout=60, what="Flower to see the worker")

        # When one sale is submitted
        ledger = Ledger(sessions)
        ids = ledger.submit([sale("F-1", [("TEA", "1")], [("CASH", "4.50")], customer="C001")])
        assert ledger.wait(ids, timeout=60)
        with sessions() as s:
            sale_id = s.scalar(select(Sale.id))

        # Then Flower's API lists the posting task and the drain that ran the sale's follow-ups
        # (reorder, loyalty and receipt: a single sale's are drained with others, not sent on their
        # own), both SUCCESS, and each follow-up is done in the ledger
        wanted = {"tasks.posting.post_requests", "tasks.followups.drain_follow_ups"}

        def succeeded():
            tasks = _flower_tasks(port)
            done = {t["name"] for t in tasks.values() if t.get("state") == "SUCCESS"}
            return tasks if wanted <= done else None

        tasks = wait_until(succeeded, timeout=60, what="Flower to report both tasks as SUCCESS")
        by_name = {t["name"]: t for t in tasks.values()}
        assert str(ids[0]) in by_name["tasks.posting.post_requests"]["args"]
        with sessions() as s:
            kinds = set(
                s.scalars(select(FollowUp.kind).where(FollowUp.sale_id == sale_id, FollowUp.done_at.is_not(None)))
            )
        assert kinds == {"REORDER", "LOYALTY", "CUSTOMER_RECEIPT"}
    finally:
        flower.terminate()
        flower.wait(timeout=20)


def _flower_get(port, path):
    return flower_get(port, path)  # with the password start_flower gave Flower


def _flower_workers(port):
    try:
        return _flower_get(port, "/api/workers?refresh=1")
    except OSError:
        return None


def _flower_tasks(port):
    return _flower_get(port, "/api/tasks")


def ledger_snapshot(sessions):
    tables = (
        "sales",
        "sale_lines",
        "tenders",
        "stock_levels",
        "stock_movements",
        "loyalty_entries",
        "customers",
        "reorder_suggestions",
        "receipts",
        "follow_ups",
        "stock_discrepancies",
    )
    with sessions() as s:
        return {t: s.execute(text(f"SELECT * FROM {t} ORDER BY 1")).all() for t in tables}


def test_posting_and_follow_ups_delivered_twice_change_nothing(sessions, start_worker):
    from tasks.followups import loyalty, receipts, reorder
    from tasks.posting import post_requests

    # Given a posted sale with all its follow-ups run, and a request not yet posted
    with sessions.begin() as s:
        make_shop(s, stock={"MUG": 6})
    start_worker(concurrency=2)
    ledger = Ledger(sessions)
    first = ledger.submit([sale("D-1", [("MUG", "2")], [("CASH", "25.80")], customer="C001")])
    assert ledger.wait(first, timeout=60)
    wait_until(lambda: all_follow_ups_done(sessions), what="follow-ups")
    before = ledger_snapshot(sessions)
    with sessions() as s:
        sale_id = s.scalar(select(Sale.id))

    # When every follow-up is delivered again, and the first posting task twice at once
    post_requests.delay(first)
    post_requests.delay(first)
    for task in (reorder, loyalty, receipts):
        task.delay([sale_id])
        task.delay([sale_id])
    wait_until(lambda: _broker_idle(), timeout=60, what="the workers to go idle")

    # Then the ledger is exactly as it was
    assert ledger_snapshot(sessions) == before


def test_one_request_posted_by_two_tasks_in_parallel_posts_once(sessions, start_worker):
    from tasks.posting import post_requests

    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
        from domain.posting.intake import receive

        ids = receive(s, [sale("TWICE-1", [("TEA", "1")], [("CASH", "4.50")])])
    start_worker(concurrency=2)
    post_requests.delay(ids)
    post_requests.delay(ids)
    ledger = Ledger(sessions)
    assert ledger.wait(ids, timeout=60)
    wait_until(lambda: _broker_idle(), timeout=60, what="the workers to go idle")
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 1
        sale_moves = select(func.count()).select_from(StockMovement).where(StockMovement.kind == "SALE")
        assert s.scalar(sale_moves) == 1


def _broker_idle():
    """Nothing queued and nothing running, seen twice a moment apart (a task may be in hand)."""
    if not _idle_once():
        return False
    time.sleep(0.3)
    return _idle_once()


def _idle_once():
    from tasks.sweeper import queue_length
    from workers.app import app

    if queue_length(app, "posting") or queue_length(app, "followups"):
        return False
    inspect = app.control.inspect(timeout=1.0)
    active = inspect.active() or {}
    reserved = inspect.reserved() or {}
    return bool(active) and not any(active.values()) and not any(reserved.values())


def test_check_is_ok_after_posting_and_fails_readably_on_corrupted_stock(sessions, start_worker, pipeline_env):
    # Given sales posted through the workers
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 20, "MUG": 10})
    start_worker(concurrency=2)
    ledger = Ledger(sessions)
    ids = ledger.submit(
        [sale(f"K-{n}", [("TEA", "1"), ("MUG", "1")], [("CASH", "17.40")], customer="C001") for n in range(5)]
    )
    assert ledger.wait(ids, timeout=60)
    wait_until(lambda: all_follow_ups_done(sessions), what="follow-ups")

    # Then `tillpost check` is ok
    ok = tillpost(pipeline_env, "check", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": True, "violations": []}

    # When stock is corrupted behind the ledger's back
    with sessions.begin() as s:
        s.execute(
            text(
                "UPDATE stock_levels SET on_hand = on_hand + 1 WHERE product_id = "
                "(SELECT id FROM products WHERE sku = 'MUG')"
            )
        )

    # Then check exits 1 and names the outlet, the SKU and both numbers
    bad = tillpost(pipeline_env, "check")
    assert bad.returncode == 1
    assert "MUG" in bad.stdout and "6.000" in bad.stdout and "5.000" in bad.stdout, bad.stdout


def test_a_request_that_fails_unexpectedly_is_recorded_and_the_rest_still_post(sessions, start_worker):
    # Given a database fault that hits one sale only (a trigger standing in for anything unforeseen)
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10})
        s.execute(
            text("""
            CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.request_id = 'POISON' THEN RAISE EXCEPTION 'disk says no'; END IF; RETURN NEW; END $$;
            CREATE TRIGGER poison BEFORE INSERT ON sales FOR EACH ROW EXECUTE FUNCTION poison();""")
        )
    start_worker(concurrency=1)
    try:
        # When it is submitted between two good sales, in one message
        ledger = Ledger(sessions)
        ids = ledger.submit([sale(rid, [("TEA", "1")], [("CASH", "4.50")]) for rid in ("OK-1", "POISON", "OK-2")])
        assert ledger.wait(ids, timeout=60)

        # Then it ends REJECTED / INTERNAL_ERROR with the cause, and the sales either side of it posted
        outcomes = ledger.outcomes(ids)
        assert [(o["outcome"], o["reason"]) for o in outcomes] == [
            ("POSTED", None),
            ("REJECTED", "INTERNAL_ERROR"),
            ("POSTED", None),
        ]
        assert "disk says no" in outcomes[1]["message"]
        # And the message is the database's own error, never SQLAlchemy's statement and parameters
        assert "INSERT INTO" not in outcomes[1]["message"] and "[SQL:" not in outcomes[1]["message"]
    finally:
        with sessions.begin() as s:
            s.execute(text("DROP TRIGGER poison ON sales; DROP FUNCTION poison();"))
