"""End-of-day batches through the real `tillpost` command and real worker processes: bad lines,
rejections and replay, CSV, posting a file twice, and the batch document of CLI.md."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from domain.tables import SaleRequestRow
from frontends.batchfiles import write_csv
from tests.batch_support import (
    ledger_totals,
    messages_by_line,
    outcomes_by_line,
    requests_without_one_outcome,
    tallied_and_counted,
    tillpost,
    tillpost_json,
    wait_for_state,
    write_jsonl,
)
from tests.shop import make_shop, sale

pytestmark = pytest.mark.pipeline

GOOD = [
    sale("G-1", [("TEA", "2")], [("CASH", "9.00")]),
    sale("G-2", [("MUG", "1")], [("CARD", "12.90")], customer="C001"),
    sale("G-3", [("BOOK", "1")], [("NETS", "20.00")]),
]
UNKNOWN_SKU = sale("U-1", [("TEA", "1"), ("NEWSKU", "1")], [("CASH", "20.00")])
SHORT = sale("S-1", [("MUG", "2")], [("CASH", "20.00")])  # 25.80 due
NOT_JSON = '{"request_id": "BROKEN-1", "outlet": "ORCH", "lines": ['
AN_ARRAY = '[{"request_id": "ARRAY-1"}]'
TYPO = {**sale("TYPO-1", [("TEA", "1")], [("CASH", "5.00")]), "discount_code": "XMAS"}

# The file, line by line, and the outcome each line must end in.
DAY = [GOOD[0], GOOD[1], NOT_JSON, AN_ARRAY, TYPO, UNKNOWN_SKU, SHORT, GOOD[2]]
EXPECTED = {
    1: ("POSTED", None),
    2: ("POSTED", None),
    3: ("REJECTED", "INVALID"),
    4: ("REJECTED", "INVALID"),
    5: ("REJECTED", "INVALID"),
    6: ("REJECTED", "UNKNOWN_SKU"),
    7: ("REJECTED", "TENDER_SHORT"),
    8: ("POSTED", None),
}
NEW_PRODUCT = (
    "company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier\n"
    "ACME,NEWSKU,New Season Tea,5.00,9,,true,,,\n"
)


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 100, "MUG": 100, "BOOK": 100})
    return sessions


def post_and_wait(env, path):
    return tillpost_json(env, "post", str(path), "--wait", "--json", "--timeout", "120")


def test_a_bad_line_rejects_only_itself_and_a_replay_after_the_fix_posts_the_unknown_sku(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given a day's file with three good sales, three lines that are not requests, an unknown SKU and a short tender
    path = write_jsonl(tmp_path / "day.jsonl", DAY)
    start_worker(concurrency=2)

    # When it is posted and waited for
    document = post_and_wait(pipeline_env, path)

    # Then every good sale posted and each bad line was rejected for its own reason
    assert document["state"] == "DONE"
    assert outcomes_by_line(sessions, document["id"]) == EXPECTED
    assert document["counts"] == {"POSTED": 3, "DUPLICATE": 0, "CONFLICT": 0, "REJECTED": 5, "PENDING": 0}
    assert document["reasons"] == {"INVALID": 3, "TENDER_SHORT": 1, "UNKNOWN_SKU": 1}
    messages = messages_by_line(sessions, document["id"])
    assert messages[3].startswith("line 3: not valid JSON"), messages[3]
    assert messages[4].startswith("line 4: ") and "JSON object" in messages[4], messages[4]
    assert messages[5] == "line 5: discount_code: unknown field", messages[5]
    assert "NEWSKU" in messages[6] and "25.80" in messages[7]
    assert document["totals"]["sales"] == "41.90" and document["reconciled"] is True

    # When the missing product is imported and the batch replayed
    (tmp_path / "products.csv").write_text(NEW_PRODUCT)
    imported = tillpost(pipeline_env, "import", "products", str(tmp_path / "products.csv"))
    assert imported.returncode == 0, imported.stderr
    replayed = tillpost(pipeline_env, "replay", "--batch", str(document["id"]))
    assert replayed.returncode == 0, replayed.stderr
    wait_for_state(sessions, document["id"], "DONE")

    # Then the unknown-SKU sale posts, the rest keep their outcome and their message, and the batch is whole again
    assert outcomes_by_line(sessions, document["id"]) == {**EXPECTED, 6: ("POSTED", None)}
    after = messages_by_line(sessions, document["id"])
    assert {n: after[n] for n in (3, 4, 5)} == {n: messages[n] for n in (3, 4, 5)}
    with sessions() as s:
        details = s.scalar(select(SaleRequestRow.details).where(SaleRequestRow.request_id == "U-1"))
    assert [p["reason"] for p in details["previous"]] == ["UNKNOWN_SKU"]
    shown = tillpost_json(pipeline_env, "batch", "show", str(document["id"]), "--json")
    assert shown["state"] == "DONE" and shown["reconciled"] is True
    assert shown["counts"]["POSTED"] == 4 and shown["reasons"] == {"INVALID": 3, "TENDER_SHORT": 1}
    assert shown["totals"]["sales"] == "51.40"  # 41.90 + TEA 4.50 + NEWSKU 5.00
    assert shown["reconciled_at"] > document["reconciled_at"]  # reconciled again once the replay settled
    assert requests_without_one_outcome(sessions, document["id"]) == []
    tallied, counted = tallied_and_counted(sessions, document["id"])
    assert tallied == counted
    assert tillpost_json(pipeline_env, "check", "--json") == {"ok": True, "violations": []}


def test_the_same_day_as_csv_posts_the_same_outcomes_and_matches_its_json_lines_twin(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given the day's requests as CSV (a row a line item), plus a request whose second row names another outlet
    requests = [GOOD[0], GOOD[1], UNKNOWN_SKU, SHORT, GOOD[2]]
    mixed = write_csv([sale("MIX-1", [("TEA", "1"), ("MUG", "1")], [("CASH", "20.00")])]).splitlines()[1:]
    mixed[1] = mixed[1].replace(",ORCH,", ",WEB,")
    path = tmp_path / "day.csv"
    path.write_text(write_csv(requests) + "\n".join(mixed) + "\n")
    start_worker(concurrency=2)

    # When it is posted
    document = post_and_wait(pipeline_env, path)

    # Then the outcomes are those of the JSON Lines file, line numbers counting the header and each row
    by_line = outcomes_by_line(sessions, document["id"])
    assert by_line == {
        2: ("POSTED", None),
        3: ("POSTED", None),
        4: ("REJECTED", "UNKNOWN_SKU"),
        6: ("REJECTED", "TENDER_SHORT"),
        7: ("POSTED", None),
        8: ("REJECTED", "INVALID"),
    }
    assert messages_by_line(sessions, document["id"])[8] == "line 9: outlet differs from line 8 of the same request"
    assert document["state"] == "DONE" and document["reconciled"] is True
    assert document["totals"]["sales"] == "41.90"

    # When the same requests arrive again as JSON Lines
    twin = post_and_wait(pipeline_env, write_jsonl(tmp_path / "day.jsonl", requests))

    # Then they are the same sales: DUPLICATE, not CONFLICT, and nothing new is posted
    assert twin["counts"] == {"POSTED": 0, "DUPLICATE": 3, "CONFLICT": 0, "REJECTED": 2, "PENDING": 0}
    assert twin["reasons"] == {"TENDER_SHORT": 1, "UNKNOWN_SKU": 1}


def test_posting_the_same_file_twice_posts_nothing_the_second_time(shop, start_worker, pipeline_env, tmp_path):
    sessions = shop
    # Given a day's file posted once
    path = write_jsonl(tmp_path / "day.jsonl", DAY)
    start_worker(concurrency=2)
    first = post_and_wait(pipeline_env, path)
    before = ledger_totals(sessions)

    # When the very same file is posted again
    second = post_and_wait(pipeline_env, path)

    # Then it is a new batch where every sale posted the first time is a DUPLICATE, and the ledger did not move
    assert second["id"] != first["id"] and second["state"] == "DONE"
    posted_first = {n for n, (outcome, _) in outcomes_by_line(sessions, first["id"]).items() if outcome == "POSTED"}
    second_outcomes = outcomes_by_line(sessions, second["id"])
    assert {n for n, (outcome, _) in second_outcomes.items() if outcome == "DUPLICATE"} == posted_first
    assert {n: o for n, o in second_outcomes.items() if n not in posted_first} == {
        n: o for n, o in EXPECTED.items() if n not in posted_first
    }
    assert second["counts"]["POSTED"] == 0
    assert Decimal(second["totals"]["sales"]) == 0 and Decimal(second["totals"]["tax"]) == 0
    assert second["totals"]["by_outlet"] == {} and second["reconciled"] is True
    assert ledger_totals(sessions) == before
    for batch in (first, second):
        tallied, counted = tallied_and_counted(sessions, batch["id"])
        assert tallied == counted


def test_post_without_wait_answers_at_once_with_the_batch_document(shop, start_worker, pipeline_env, tmp_path):
    sessions = shop
    # Given no worker running yet
    path = write_jsonl(tmp_path / "day.jsonl", DAY)

    # When the file is posted without --wait
    document = tillpost_json(pipeline_env, "post", str(path), "--json", timeout=60)

    # Then the batch document comes back at once, every request durable and the unreadable line already decided
    assert set(document) >= {"id", "state", "requests", "counts", "reasons", "totals", "reconciled"}
    assert document["state"] == "RECEIVED" and document["requests"] == len(DAY)
    assert document["counts"] == {"POSTED": 0, "DUPLICATE": 0, "CONFLICT": 0, "REJECTED": 1, "PENDING": 7}
    assert set(document["totals"]) == {"sales", "tax", "by_outlet", "by_tender", "by_gst_rate"}
    assert (document["reconciled"], document["reconciliation"], document["reconciled_at"]) == (None, None, None)
    listed = tillpost_json(pipeline_env, "batch", "list", "--json")
    assert {"id": document["id"], "state": "RECEIVED"}.items() <= next(
        b for b in listed if b["id"] == document["id"]
    ).items()

    # When a worker starts
    start_worker(concurrency=2)

    # Then the batch it queued is worked off to DONE
    wait_for_state(sessions, document["id"], "DONE")
    shown = tillpost_json(pipeline_env, "batch", "show", str(document["id"]), "--json")
    assert shown["counts"]["PENDING"] == 0 and shown["counts"]["POSTED"] == 3
    assert [
        b["state"] for b in tillpost_json(pipeline_env, "batch", "list", "--json") if b["id"] == document["id"]
    ] == ["DONE"]


def test_lines_postgresql_cannot_store_are_rejected_one_by_one_instead_of_failing_the_file(
    shop, pipeline_env, tmp_path
):
    sessions = shop
    # Given, between two good sales, lines with a NaN, an escaped NUL, bytes that are not UTF-8, a raw NUL,
    # nesting deeper than Python's recursion limit, and a number too large to write out
    one_tea = sale("X", [("TEA", "1")], [("CASH", "5.00")])
    lines = [
        json.dumps(GOOD[0]).encode(),
        json.dumps({**one_tea, "request_id": "NAN-1"}).replace('"1"', "NaN").encode(),
        json.dumps({**one_tea, "request_id": "NUL-1", "notes": "a\u0000b"}).encode(),
        json.dumps({**one_tea, "request_id": "LATIN1-1", "notes": "caf\u00e9"}).encode().replace(b"\\u00e9", b"\xe9"),
        b"\x00",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({**one_tea, "request_id": "HUGE-1"}).replace('"1"', "1e300000000").encode(),
        json.dumps(GOOD[1]).encode(),
    ]
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    csv_path = tmp_path / "day.csv"
    csv_path.write_text(write_csv([GOOD[2], sale("NUL-2", [("TEA", "1")], [("CASH", "5.00")], notes="a\u0000b")]))

    # When both files are posted
    jsonl = tillpost_json(pipeline_env, "post", str(path), "--json", timeout=60)
    csv = tillpost_json(pipeline_env, "post", str(csv_path), "--json", timeout=60)

    # Then each such line is INVALID with its line number, and the good sales wait for a worker
    assert outcomes_by_line(sessions, jsonl["id"]) == {
        1: ("PENDING", None),
        **dict.fromkeys(range(2, 8), ("REJECTED", "INVALID")),
        8: ("PENDING", None),
    }
    messages = messages_by_line(sessions, jsonl["id"])
    assert all(messages[n].startswith(f"line {n}: ") for n in range(2, 8)), messages
    assert "notes" in messages[3] and "notes" in messages[4], messages
    assert outcomes_by_line(sessions, csv["id"]) == {2: ("PENDING", None), 3: ("REJECTED", "INVALID")}


def test_replay_refuses_a_batch_that_does_not_exist_and_a_reason_code_that_does_not(shop, pipeline_env, tmp_path):
    # Given one batch that exists
    document = tillpost_json(pipeline_env, "post", str(write_jsonl(tmp_path / "day.jsonl", DAY)), "--json")

    # When a replay names another batch, or a misspelt reason
    missing = tillpost(pipeline_env, "replay", "--batch", str(document["id"] + 1))
    misspelt = tillpost(pipeline_env, "replay", "--batch", str(document["id"]), "--reason", "UNKNOWN_SKUS")

    # Then neither pretends to have replayed anything: a failed command (1) and bad input (2), each saying why
    assert (missing.returncode, missing.stdout) == (1, "")
    assert f"no batch '{document['id'] + 1}'" in missing.stderr
    assert misspelt.returncode == 2 and "UNKNOWN_SKUS" in misspelt.stderr


def test_a_return_posts_after_its_sale_from_the_same_file_whichever_worker_takes_either(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given a file of 400 sales where 20 sales near the end of the first 200 lines are returned at the start
    # of the next 200 (two workers take one range each, so a return is reached before its sale)
    lines = [sale(f"D-{n}", [("TEA", "1")], [("CARD", "4.50")]) for n in range(400)]
    for n in range(20):
        lines[200 + n] = sale(
            f"R-{n}", [("TEA", "1")], [("CARD", "4.50")], kind="return", original_request_id=f"D-{180 + n}"
        )
    start_worker(concurrency=2)

    # When it is posted
    document = post_and_wait(pipeline_env, write_jsonl(tmp_path / "day.jsonl", lines))

    # Then every return found its sale: the file's order, not the workers' race, decides
    assert document["reasons"] == {}
    assert document["counts"]["POSTED"] == 400 and document["totals"]["sales"] == str(Decimal("4.50") * 360)
    assert requests_without_one_outcome(sessions, document["id"]) == []


def test_batch_show_while_workers_post_reconciles_from_one_moment(shop, start_worker, pipeline_env, tmp_path):
    """`batch show --reconcile` reads its counts and the ledger's sums in one snapshot: never
    `reconciled: false` merely because workers posted between two of its statements (the adversarial
    review saw it on every read). Without --reconcile, the reconciliation is not computed until the
    batch settles."""
    from services import lookups

    path = write_jsonl(tmp_path / "day.jsonl", [sale(f"P-{n}", [("TEA", "1")], [("CASH", "4.50")]) for n in range(800)])
    start_worker(concurrency=2)
    batch_id = tillpost_json(pipeline_env, "post", str(path), "--json")["id"]

    seen = []
    while not seen or seen[-1][0] not in ("DONE", "ATTENTION"):
        shown = lookups.batch_show(shop, batch_id, reconcile=True)
        seen.append((shown["state"], shown["counts"]["PENDING"], shown["reconciled"]))
        stored = lookups.batch_show(shop, batch_id)["reconciled"]
        assert stored is (True if stored is not None else None), stored
    while_posting = [s for s in seen if s[0] == "POSTING" and s[1] > 0]
    assert while_posting, "the batch was never seen while posting: nothing was tested"
    assert [s for s in seen if s[2] is not True] == []
    assert lookups.batch_show(shop, batch_id)["reconciled"] is True
