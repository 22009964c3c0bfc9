"""Batch files that are odd: CSV rows of one request split apart, rows the csv module cannot read,
files with no requests in them, and paths that are not a readable file."""

from __future__ import annotations

import csv
import ctypes
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from domain.batches import staging
from domain.masterdata.fields import read_records
from domain.tables import Batch, Sale, StockMovement
from frontends.batchfiles import file_digest, read_batch, write_csv
from tests.batch_support import ROOT, messages_by_line, outcomes_by_line, tillpost, tillpost_json
from tests.shop import make_shop, sale

HEADER = "request_id,outlet,occurred_at,cashier,sku,quantity,unit_price,notes,tenders"
WHEN = "2025-03-01T10:15:00+08:00"


def row(request_id: str, sku: str = "TEA", tenders: str = "CASH:4.50", notes: str = "") -> str:
    return f"{request_id},ORCH,{WHEN},amy,{sku},1,,{notes},{tenders}"


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 100, "MUG": 100, "BOOK": 100})
    return sessions


def stage(sessions, path: Path) -> int:
    with sessions.begin() as s:
        return staging.stage(s, str(path), file_digest(path), read_batch(path))


def stage_csv(sessions, tmp_path: Path, *rows: str | bytes) -> int:
    """A CSV batch of these rows after the header (the header is line 1), staged as `post` stages it."""
    body = b"".join((r if isinstance(r, bytes) else r.encode()) + b"\n" for r in rows)
    path = tmp_path / "day.csv"
    path.write_bytes(HEADER.encode() + b"\n" + body)
    return stage(sessions, path)


# Rows of one request that are not adjacent


@pytest.mark.pipeline
def test_a_request_split_by_other_rows_is_invalid_on_every_row_and_the_rest_of_the_file_posts(
    shop, start_worker, pipeline_env, tmp_path
):
    sessions = shop
    # Given a CSV whose request R1 has two rows, then another sale, then a third row of R1 again
    r1 = [row("R1", sku, "CASH:40.00") for sku in ("TEA", "MUG", "BOOK")]
    path = tmp_path / "day.csv"
    path.write_text("\n".join([HEADER, r1[0], r1[1], row("G-1"), r1[2], row("G-2")]) + "\n")
    start_worker(concurrency=2)

    # When it is posted and waited for
    document = tillpost_json(pipeline_env, "post", str(path), "--wait", "--json", "--timeout", "120")

    # Then the other sales post, and every row of R1 is INVALID, naming where its rows are
    assert document["state"] == "DONE"
    assert outcomes_by_line(sessions, document["id"]) == {
        2: ("REJECTED", "INVALID"),
        4: ("POSTED", None),
        5: ("REJECTED", "INVALID"),
        6: ("POSTED", None),
    }
    messages = messages_by_line(sessions, document["id"])
    adjacent = "request_id R1 appears on lines 2-3 and again on line 5; the rows of one request must be adjacent"
    assert messages[2] == f"line 2: {adjacent}"
    assert messages[5] == f"line 5: {adjacent}"
    # And nothing of R1 reached the ledger: no sale, no stock movement of MUG or BOOK
    with sessions() as s:
        assert s.scalars(select(Sale.request_id).order_by(Sale.request_id)).all() == ["G-1", "G-2"]
        assert s.scalar(select(func.count()).select_from(StockMovement).where(StockMovement.sale_id.is_not(None))) == 2
    assert tillpost_json(pipeline_env, "check", "--json")["ok"] is True


def test_every_run_of_a_split_request_is_named_with_the_lines_it_spans(shop, tmp_path):
    # Given request R7 in two runs, the second of rows whose notes hold a line break
    batch_id = stage_csv(
        shop, tmp_path, row("G-1"), row("R7"), row("R7", "MUG"), row("G-2"), *[row("R7", notes='"two\nlines"')] * 2
    )

    # Then both runs are INVALID (one entry each) and the good requests wait for a worker
    assert outcomes_by_line(shop, batch_id) == {
        2: ("PENDING", None),
        3: ("REJECTED", "INVALID"),
        5: ("PENDING", None),
        6: ("REJECTED", "INVALID"),
    }
    assert messages_by_line(shop, batch_id)[6] == (
        "line 6: request_id R7 appears on lines 3-4 and again on lines 6-9; the rows of one request must be adjacent"
    )
    # And a replay never posts one run of it alone
    with shop.begin() as s:
        assert staging.reopen_rejected(s, batch_id) == 0


def test_in_json_lines_a_repeated_request_id_stays_a_second_submission(shop, tmp_path):
    # Given a JSON Lines file that sends R1, another sale, then R1 again
    path = tmp_path / "day.jsonl"
    one = sale("R1", [("TEA", "1")], [("CASH", "4.50")])
    path.write_text("\n".join(json.dumps(r) for r in [one, sale("G-1", [("TEA", "1")], [("CASH", "4.50")]), one]))

    # Then both submissions of R1 wait for a worker (which decides POSTED, then DUPLICATE)
    assert set(outcomes_by_line(shop, stage(shop, path)).values()) == {("PENDING", None)}


# Rows the csv module cannot read


def test_a_row_with_too_few_or_too_many_fields_is_invalid_on_its_own_line(shop, tmp_path):
    batch_id = stage_csv(
        shop, tmp_path, row("G-1"), f"B-1,ORCH,{WHEN},amy,TEA", row("G-2"), row("B-2") + ",x", row("G-3")
    )

    assert outcomes_by_line(shop, batch_id) == {
        2: ("PENDING", None),
        3: ("REJECTED", "INVALID"),
        4: ("PENDING", None),
        5: ("REJECTED", "INVALID"),
        6: ("PENDING", None),
    }
    messages = messages_by_line(shop, batch_id)
    assert messages[3] == "line 3: has 5 fields, the header has 9"
    assert messages[5] == "line 5: has 10 fields, the header has 9"


def test_a_cell_larger_than_the_csv_limit_or_a_bad_quote_is_invalid_on_its_own_line(shop, tmp_path):
    limit = csv.field_size_limit()
    batch_id = stage_csv(
        shop,
        tmp_path,
        row("G-1"),
        row("B-1", notes='"' + "x" * (limit + 1) + '"'),
        row("B-2", notes='"said "hi""'),
        row("G-2"),
    )

    assert outcomes_by_line(shop, batch_id) == {
        2: ("PENDING", None),
        3: ("REJECTED", "INVALID"),
        4: ("REJECTED", "INVALID"),
        5: ("PENDING", None),
    }
    messages = messages_by_line(shop, batch_id)
    assert messages[3] == f"line 3: a cell is larger than the limit of {limit} characters"
    assert messages[4] == "line 4: a quoted cell has text after its closing quote"


def test_a_quote_never_closed_rejects_its_line_and_the_lines_after_it_are_read_again(shop, tmp_path):
    batch_id = stage_csv(shop, tmp_path, row("G-1"), row("B-1", notes='"oops'), row("G-2"), row("G-3"))

    assert outcomes_by_line(shop, batch_id) == {
        2: ("PENDING", None),
        3: ("REJECTED", "INVALID"),
        4: ("PENDING", None),
        5: ("PENDING", None),
    }
    assert messages_by_line(shop, batch_id)[3] == "line 3: a quoted cell is never closed"


def test_a_nul_byte_or_bytes_that_are_not_utf8_reject_only_their_own_request(shop, tmp_path):
    batch_id = stage_csv(
        shop,
        tmp_path,
        row("G-1"),
        row("B-1", notes="a\x00b"),
        row("B-2", notes="caf\xe9").encode("latin-1"),
        row("G-2"),
    )

    assert outcomes_by_line(shop, batch_id) == {
        2: ("PENDING", None),
        3: ("REJECTED", "INVALID"),
        4: ("REJECTED", "INVALID"),
        5: ("PENDING", None),
    }
    messages = messages_by_line(shop, batch_id)
    assert messages[3].startswith("line 3: notes: ") and "NUL" in messages[3]
    assert messages[4].startswith("line 4: notes: ") and "not UTF-8" in messages[4]


def test_a_row_that_cannot_be_read_takes_the_rest_of_its_request_with_it(shop, tmp_path):
    # Given R1 whose second row has a field too many, and R2 whose second row has a cell too large
    huge = '"' + "x" * (csv.field_size_limit() + 1) + '"'
    batch_id = stage_csv(
        shop, tmp_path, row("R1"), row("R1", "MUG") + ",x", row("R2"), row("R2", "MUG", notes=huge), row("G-1")
    )

    # Then neither request waits to post with only its readable rows
    assert outcomes_by_line(shop, batch_id) == {
        2: ("REJECTED", "INVALID"),
        4: ("REJECTED", "INVALID"),
        6: ("PENDING", None),
    }
    messages = messages_by_line(shop, batch_id)
    assert messages[2] == "line 3: has 10 fields, the header has 9"
    assert messages[4].startswith("line 5: a cell is larger than the limit")


def test_a_master_data_file_reports_every_row_it_cannot_read_at_once():
    huge = '"' + "x" * (csv.field_size_limit() + 1) + '"'
    text = f'code,name\nA,Apple\nB,{huge}\nC,"said "hi""\nD,Durian\nE\n'

    records, problems = read_records(io.StringIO(text, newline=""), ("code", "name"))

    assert [r.cells["code"] for r in records] == ["A", "D"]
    assert [line for line, _ in problems] == [3, 4, 6]


# Files that hold no requests, and paths that are not a readable file

NO_REQUESTS = {
    "an empty CSV file": ("day.csv", b""),
    "a CSV file with only its header": ("day.csv", HEADER.encode() + b"\n"),
    "a CSV file of a header and blank lines": ("day.csv", HEADER.encode() + b"\n\n\r\n"),
    "an empty JSON Lines file": ("day.jsonl", b""),
    "a JSON Lines file of blank lines": ("day.jsonl", b"\n  \n\n"),
}


@pytest.mark.pipeline
@pytest.mark.parametrize("name", NO_REQUESTS)
def test_a_file_with_no_requests_is_refused_with_exit_2_and_no_batch(name, sessions, pipeline_env, tmp_path):
    filename, content = NO_REQUESTS[name]
    path = tmp_path / filename
    path.write_bytes(content)

    done = tillpost(pipeline_env, "post", str(path), "--json")

    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"tillpost: {path}: no requests"), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Batch)) == 0


@pytest.mark.pipeline
def test_a_directory_given_to_post_is_refused_with_exit_2(pipeline_env, tmp_path):
    done = tillpost(pipeline_env, "post", str(tmp_path))

    assert done.returncode == 2
    assert done.stderr == f"tillpost: {tmp_path}: is a directory, not a batch file\n"


def _without_root_file_access() -> None:
    """Root reads any file: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH so mode 000 means unreadable."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.pipeline
def test_an_unreadable_file_given_to_post_is_refused_with_exit_2(pipeline_env, tmp_path):
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "\n" + row("G-1") + "\n")
    path.chmod(0)

    done = subprocess.run(
        [sys.executable, "-m", "frontends.cli", "post", str(path)],
        env=pipeline_env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        preexec_fn=_without_root_file_access if os.geteuid() == 0 else None,
    )

    assert done.returncode == 2
    assert done.stderr == f"tillpost: {path}: cannot be read (Permission denied)\n"


def test_write_csv_and_the_reader_agree_on_a_request_of_several_rows(shop, tmp_path):
    # A guard for the reader rewrite: the canonical CSV of two requests stages as two PENDING requests
    path = tmp_path / "day.csv"
    path.write_text(
        write_csv(
            [
                sale("A-1", [("TEA", "1"), ("MUG", "1")], [("CASH", "20.00")], notes="first,\nsecond"),
                sale("A-2", [("BOOK", "1")], [("CARD", "20.00")]),
            ]
        )
    )
    assert outcomes_by_line(shop, stage(shop, path)) == {2: ("PENDING", None), 6: ("PENDING", None)}
