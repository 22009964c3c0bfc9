"""The demo day (frontends/demo_data.day_of_sales) posts whole: every request it means to be good is
POSTED, returns included (their cash refunds rounded as a cash refund is, never past what the return
refunds), and the ones it spoils on purpose fail for their own documented reasons. Posted in process
through the posting use case (the demo posts the same file through real workers)."""

from __future__ import annotations

import io
import json

import pytest

from frontends.demo_data import SPOILED_AT, SPOILED_EVERY, as_csv, catalogue, day_of_sales
from services.intake import outcomes, receive
from services.masterdata import import_rows
from services.posting import post_chunk

KINDS = ("companies", "outlets", "users", "products", "customers", "stock")
# what each spoiled request (the (n // 500) % 4-th kind of spoiling) is rejected for
SPOILED_REASONS = {0: "UNKNOWN_SKU", 1: "TENDER_SHORT", 3: "INVALID"}  # 2: a truncated line, not JSON at all


def post_all(db: object, requests: list[dict[str, object]]) -> list[dict[str, object]]:
    ids = receive(db, requests)  # type: ignore[arg-type]
    for start in range(0, len(ids), 200):
        post_chunk(db, ids[start : start + 200])  # type: ignore[arg-type]
    return outcomes(db, ids)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_request_of_a_demo_day_posts_but_those_spoiled_on_purpose(sessions, seed):
    # Given the demo shop and a demo day with its bad requests
    shop = catalogue()
    for kind in KINDS:
        import_rows(sessions, kind, io.StringIO(as_csv(shop[kind])))
    lines = list(day_of_sales(2000, seed=seed, bad=True))
    spoiled = {n for n in range(len(lines)) if n % SPOILED_EVERY == SPOILED_AT}
    good = [json.loads(line) for n, line in enumerate(lines) if n not in spoiled]
    assert sum(1 for r in good if r.get("kind") == "return") >= 5

    # When every request is posted
    posted = post_all(sessions, good)
    bad = {}
    for n in sorted(spoiled):
        kind = (n // SPOILED_EVERY) % 4
        if kind == 2:
            with pytest.raises(json.JSONDecodeError):
                json.loads(lines[n])
            continue
        bad[kind] = post_all(sessions, [json.loads(lines[n])])[0]

    # Then every good one is POSTED, whatever its kind, and each spoiled one has its reason
    refused = [(d["request_id"], d["reason"], d["message"]) for d in posted if d["outcome"] != "POSTED"]
    assert refused == []
    assert {kind: (d["outcome"], d["reason"]) for kind, d in bad.items()} == {
        kind: ("REJECTED", reason) for kind, reason in SPOILED_REASONS.items()
    }
