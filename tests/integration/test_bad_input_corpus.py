"""Every case of tests/bad_input_corpus.py ends as it says: one outcome with the reason and a message
naming the problem, the rest of its file posted, or an exit status with one line and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from domain.batches import staging
from domain.tables import Sale, SaleRequestRow
from frontends.batchfiles import file_digest, read_batch
from services.posting import post_request
from tests.bad_input_corpus import (
    ARGS_CASES,
    CSV_CASES,
    HEADER,
    JSON_CASES,
    WHOLE_FILE_CASES,
    Args,
    CsvRows,
    Json,
    WholeFile,
)
from tests.batch_support import messages_by_line, outcomes_by_line, tillpost
from tests.shop import intake_row, make_shop, receive_one, submit_and_post

CASES = [*JSON_CASES, *CSV_CASES, *WHOLE_FILE_CASES, *ARGS_CASES]


def test_the_corpus_is_broad_and_each_name_unique():
    names = [case.name for case in CASES]
    assert len(set(names)) == len(names)
    assert len(names) >= 40


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(s, stock={"TEA": 10, "MUG": 10})
    return sessions


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input(case, request, tmp_path):
    if isinstance(case, Json):
        _json(case, request.getfixturevalue("shop"))
    elif isinstance(case, CsvRows):
        _csv_rows(case, request.getfixturevalue("shop"), tmp_path)
    elif isinstance(case, WholeFile):
        _whole_file(case, request.getfixturevalue("pipeline_env"), tmp_path)
    else:
        _args(case, request.getfixturevalue("pipeline_env"))


def _json(case: Json, sessions) -> None:
    for earlier in case.before:
        assert submit_and_post(sessions, earlier).outcome == "POSTED"
    with sessions() as s:
        sales_before = len(s.scalars(select(Sale.id)).all())

    intake_id = receive_one(sessions, case.payload())
    post_request(sessions, intake_id)

    with sessions() as s:
        row = intake_row(s, intake_id)
        assert (row.outcome, row.reason) == (case.outcome, case.reason), row.message
        assert case.mentions in (row.message or ""), row.message
        assert len(s.scalars(select(Sale.id)).all()) == sales_before, "a rejected request left a sale"


def _csv_rows(case: CsvRows, sessions, tmp_path: Path) -> None:
    path = tmp_path / "day.csv"
    path.write_bytes((HEADER + "\n" + case.rows + "\n").encode("utf-8", "surrogateescape"))
    with sessions.begin() as s:
        batch_id = staging.stage(s, str(path), file_digest(path), read_batch(path))
    with sessions() as s:
        pending = s.scalars(
            select(SaleRequestRow.id).where(SaleRequestRow.batch_id == batch_id, SaleRequestRow.outcome == "PENDING")
        ).all()
    for intake_id in pending:
        post_request(sessions, intake_id)

    outcomes, messages = outcomes_by_line(sessions, batch_id), messages_by_line(sessions, batch_id)
    for line in case.bad_lines:
        assert outcomes.get(line) == ("REJECTED", "INVALID"), (line, outcomes, messages)
        assert case.mentions in (messages[line] or ""), messages[line]
        assert f"line {line}" in (messages[line] or ""), messages[line]
    for line in case.good_lines:
        assert outcomes.get(line) == ("POSTED", None), (line, outcomes, messages)
    assert set(outcomes) == {*case.bad_lines, *case.good_lines}, outcomes


def _whole_file(case: WholeFile, env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / f"day{case.suffix}"
    if case.content is None:
        path.mkdir()
    else:
        path.write_bytes(case.content)

    done = tillpost(env, "post", str(path), "--json")

    assert done.returncode == case.exit_code, done.stderr
    _one_clear_line(done.stderr, case.mentions)
    assert done.stdout == ""


def _args(case: Args, env: dict[str, str]) -> None:
    done = tillpost({**env, **case.env}, *case.argv)

    assert done.returncode == case.exit_code, done.stderr
    _one_clear_line(done.stderr, case.mentions)
    assert done.stdout == "", "a refused command wrote output anyway"
    for secret in ("hunter2",):
        assert secret not in done.stderr + done.stdout


def _one_clear_line(stderr: str, mentions: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert mentions in stderr, stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) <= 5, stderr


def test_a_corpus_request_posts_when_nothing_is_wrong_with_it(shop):
    """The corpus's good request itself posts: every rejection above comes from its one change."""
    from tests.bad_input_corpus import good

    intake_id = receive_one(shop, good())
    assert post_request(shop, intake_id).outcome == "POSTED"
    with shop() as s:
        assert intake_row(s, intake_id).reason is None
