"""`tillpost report x|z|gst` and `cash count` on the command line, over a real Online Retail day
posted by real workers; `report ID` still the batch report; bad values exit 2 with one line."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from services.intake import receive
from services.masterdata import import_rows
from tests.batch_support import tillpost, tillpost_json
from tests.conftest import shared_path
from tests.integration.test_reports import post_in_process, reconciles, the_figures
from tests.online_retail import MASTER_KINDS, convert
from tests.report_arithmetic import Item, Ledger, day_figures, f5_boxes
from tests.shop import make_shop, sale

pytestmark = pytest.mark.pipeline
DAY = ("data", "online-retail", "2010-12-22.csv")


def test_a_real_uk_day_posted_by_workers_reports_its_two_singapore_days_to_the_cent(
    sessions, start_worker, pipeline_env, tmp_path
):
    # Given a real Online Retail day (cash, prices including GST, cancellations as returns, 0% lines),
    # its master data imported, posted by real workers; its UK invoices after 16:00 London time fall
    # on the next Singapore day
    day = convert(shared_path(*DAY), tmp_path / "day")
    for kind in MASTER_KINDS:
        import_rows(sessions, kind, io.StringIO(day.master[kind].read_text()))
    start_worker(concurrency=2)
    batch = tillpost_json(pipeline_env, "post", str(day.batch), "--wait", "--json", "--timeout", "120")
    assert batch["counts"]["POSTED"] == len(day.request_ids)
    with day.master["products"].open(newline="") as stream:
        items = {
            row["sku"]: Item(
                Decimal(row["price"]),
                Decimal(row["gst_rate"]),
                "standard" if Decimal(row["gst_rate"]) > 0 else "zero_rated",
            )
            for row in csv.DictReader(stream)
        }
    ledger = Ledger(items, included=True)
    for line in day.batch.read_text().splitlines():
        ledger.post(json.loads(line))
    days = defaultdict(set)
    for posted in ledger.posted.values():
        days[posted.outlet].add(posted.day)
    assert days["UK"] == {date(2010, 12, 22), date(2010, 12, 23)}

    # When each outlet-day's X and Z are asked for on the command line
    for outlet, business_days in days.items():
        for business_day in sorted(business_days):
            args = ("--outlet", outlet, "--date", business_day.isoformat(), "--json")
            x = tillpost_json(pipeline_env, "report", "x", *args)
            z = tillpost_json(pipeline_env, "report", "z", *args)
            # Then every figure is the test's own sum, and the Z holds the same
            assert the_figures(x) == day_figures(ledger, outlet, business_day), (outlet, business_day)
            assert the_figures(z) == the_figures(x) and reconciles(z)
    assert tillpost_json(pipeline_env, "report", "z", "--outlet", "UK", "--date", "2010-12-23", "--json")["number"] == 2

    # And the F5 of those days, with the sales behind each box as CSV
    detail = tmp_path / "f5.csv"
    f5 = tillpost_json(
        pipeline_env, "report", "gst", "--company", "ORL", "--from", "2010-12-22", "--to", "2010-12-23",
        "--json", "--csv", str(detail),
    )  # fmt: skip
    expected = f5_boxes(ledger, date(2010, 12, 22), date(2010, 12, 23))
    assert {k: f5[k] for k in expected} == expected
    per_box: dict[str, Decimal] = defaultdict(Decimal)
    with detail.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    for row in rows:
        per_box[row["box"]] += Decimal(row["value"])
    assert {box: str(per_box[box].quantize(Decimal("0.01"))) for box in ("box1", "box2")} == {
        "box1": f5["box1"],
        "box2": f5["box2"],
    }
    assert {r["request_id"] for r in rows} == set(ledger.posted)

    # And `report ID` is still the batch's requests with their outcomes, in both forms
    as_csv = tillpost(pipeline_env, "report", str(batch["id"]))
    assert as_csv.returncode == 0 and len(as_csv.stdout.splitlines()) == len(day.request_ids) + 1
    as_jsonl = tillpost(pipeline_env, "report", "--format", "jsonl", str(batch["id"]))
    assert [json.loads(line)["outcome"] for line in as_jsonl.stdout.splitlines()] == ["POSTED"] * len(day.request_ids)


def test_cash_count_z_refused_while_pending_and_html_on_the_command_line(sessions, pipeline_env, tmp_path):
    with sessions.begin() as s:
        make_shop(s)
    post_in_process(sessions, [sale("S1", [("TEA", "3")], [("CASH", "20.00")])])
    # Given a count of the drawer, 1.00 over
    counted = tillpost(pipeline_env, "cash", "count", "--outlet", "ORCH", "--date", "2025-03-01", "--amount", "14.50")
    assert counted.returncode == 0, counted.stderr
    page = tmp_path / "x.html"
    x = tillpost_json(
        pipeline_env, "report", "x", "--outlet", "ORCH", "--date", "2025-03-01", "--json", "--html", str(page)
    )
    assert (x["expected_cash"], x["counted_cash"], x["over_short"]) == ("13.50", "14.50", "1.00")
    assert "<table>" in page.read_text() and "X report" in page.read_text()

    # When a request of that day is received but not posted (no worker), then the Z is refused, exit 1
    receive(sessions, [sale("P1", [("TEA", "1")], [("CASH", "5.00")])])
    refused = tillpost(pipeline_env, "report", "z", "--outlet", "ORCH", "--date", "2025-03-01")
    assert refused.returncode == 1 and "1 request(s)" in refused.stderr and refused.stdout == ""
    assert "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("report", "x", "--outlet", "ORCH", "--date", "2025-13-01"), "date"),
        (("report", "x", "--outlet", "NOPE", "--date", "2025-03-01"), "NOPE"),
        (("report", "z", "--outlet", "ORCH", "--date", "03/01/2025"), "date"),
        (("report", "gst", "--company", "ACME", "--period", "2025Q5"), "period"),
        (("report", "gst", "--company", "ACME", "--from", "2025-03-02", "--to", "2025-03-01"), "from"),
        (("report", "gst", "--company", "NOPE", "--period", "2025Q1"), "NOPE"),
        (("cash", "count", "--outlet", "ORCH", "--date", "2025-03-01", "--amount", "abc"), "amount"),
        (("cash", "count", "--outlet", "ORCH", "--date", "2025-03-01", "--amount", "-5"), "amount"),
        (("cash", "count", "--outlet", "ORCH", "--date", "2025-03-01", "--amount", "NaN"), "amount"),
        (("report",), "Usage: tillpost report"),
    ],
)
def test_a_report_or_count_of_bad_values_exits_2_naming_the_problem(sessions, pipeline_env, args, named):
    with sessions.begin() as s:
        make_shop(s)
    done = tillpost(pipeline_env, *args)
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr and done.stdout == ""
