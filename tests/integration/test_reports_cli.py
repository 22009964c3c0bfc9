"""`tillpost report x|z|gst` and `cash count` on the command line, over a real Online Retail day
posted by real workers; `report ID` still the batch report; bad values exit 2 with one line."""

from __future__ import annotations

import csv
import html
import io
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from sqlalchemy import update

from domain.tables import Outlet
from frontends.reportprint import BOX_LABELS, FIGURE_LABELS
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


class Page(HTMLParser):
    """A report page as a browser reads it: its tags, its h1, and per h2 section its rows (th: td),
    text unescaped (convert_charrefs)."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.h1 = ""
        self.sections: dict[str, dict[str, str]] = {}
        self._open: str | None = None
        self._text = ""
        self._heading, self._label = "", ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._open, self._text = tag, ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self.h1 = self._text
        elif tag == "h2":
            self._heading = self._text
            self.sections[self._heading] = {}
        elif tag == "th":
            self._label = self._text
        elif tag == "td":
            self.sections[self._heading][self._label] = self._text
        self._open, self._text = None, ""

    def cells(self) -> list[str]:
        """Every text a reader sees: the title, the headings, each row's label and value."""
        rows = [text for cells in self.sections.values() for row in cells.items() for text in row]
        return [self.h1, *self.sections, *rows]


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "table", "tr", "th", "td"}
MARKUP_NAME = '<b>Orchard</b> & "Co" <script>alert(1)</script>'


def leaves(value: object) -> list[str]:
    """Every scalar of a JSON document, as text."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [] if value is None else [str(value)]


def test_the_html_pages_hold_every_figure_of_the_json_and_escape_an_outlet_name_with_markup(
    sessions, pipeline_env, tmp_path
):
    # Given an outlet whose name holds markup, a day of sales at two rates and three tenders, a count
    with sessions.begin() as s:
        shop = make_shop(s)
        s.execute(update(Outlet).where(Outlet.id == shop.outlet_ids["ORCH"]).values(name=MARKUP_NAME))
    post_in_process(
        sessions,
        [
            sale("S1", [("TEA", "3")], [("CASH", "20.00")]),
            sale("S2", [("BOOK", "1"), ("MUG", "1")], [("CARD", "30.00"), ("CASH", "5.00")]),
            sale("S3", [("TEA", "1")], [("PAYNOW", "4.50")], occurred_at="2025-03-01T11:00:00+08:00"),
        ],
    )
    day = ("--outlet", "ORCH", "--date", "2025-03-01")
    assert tillpost(pipeline_env, "cash", "count", *day, "--amount", "15.00").returncode == 0

    # When the Z, the X and the F5 are asked for with --json and --html
    pages = {name: tmp_path / f"{name}.html" for name in ("z", "x", "gst")}
    z = tillpost_json(pipeline_env, "report", "z", *day, "--json", "--html", str(pages["z"]))
    x = tillpost_json(pipeline_env, "report", "x", *day, "--json", "--html", str(pages["x"]))
    f5 = tillpost_json(
        pipeline_env, "report", "gst", "--company", "ACME", "--period", "2025Q1", "--json", "--html", str(pages["gst"])
    )
    read = {name: Page(path.read_text(encoding="utf-8")) for name, path in pages.items()}

    # Then each page is only the page's own markup: the outlet's name is text, escaped, never tags
    for name, page in read.items():
        assert page.tags <= PAGE_TAGS, name
    for name in ("z", "x"):
        raw = pages[name].read_text(encoding="utf-8")
        assert MARKUP_NAME in read[name].h1 and html.escape(MARKUP_NAME) in raw and MARKUP_NAME not in raw
    # And every figure of the Z and the X is on its page, under its own label
    assert z["outlet_name"] == MARKUP_NAME and z["tenders"].keys() == {"CASH", "CARD", "PAYNOW"}
    assert z["counted_cash"] is not None and len(z["by_gst_rate"]) == 2
    for document, page in ((z, read["z"]), (x, read["x"])):
        shown = {label: page.sections["Figures"][label] for _, label in FIGURE_LABELS}
        assert shown == {label: "-" if document[key] is None else str(document[key]) for key, label in FIGURE_LABELS}
        assert page.sections["Tenders"] == document["tenders"]
        rates = page.sections["GST by rate (base, tax)"]
        assert {rate: value.split() for rate, value in rates.items()} == {
            f"{r['rate']}%": [r["base"], r["tax"]] for r in document["by_gst_rate"]
        }
        cells = page.cells()
        missing = [leaf for leaf in leaves(document) if not any(leaf in cell for cell in cells)]
        assert missing == [], missing
    assert f"Z report no. {z['number']}" in read["z"].h1 and read["z"].sections["Issued"]["at"] == z["issued_at"]
    assert read["x"].sections[f"Since Z report no. {z['number']} (issued {z['issued_at']})"] == {"": "no change"}
    # And every box of the F5, with its note
    assert {key: read["gst"].sections["Boxes"][label] for key, label in BOX_LABELS} == {
        key: f5[key] for key, _ in BOX_LABELS
    }
    assert [leaf for leaf in leaves(f5) if not any(leaf in cell for cell in read["gst"].cells())] == []
