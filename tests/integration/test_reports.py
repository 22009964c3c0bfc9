"""X and Z reports, cash counts and GST F5 figures, checked against the test's own arithmetic
(tests/report_arithmetic.py) from the request files, to the cent. Posting goes through the posting
use case in process here (tests/integration/test_reports_cli.py posts through real workers)."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import InvalidArgument, NotFound, ZReportRefused
from frontends.demo_data import as_csv, catalogue, day_of_sales
from services import reports
from services.intake import outcomes, receive
from services.masterdata import import_rows
from services.posting import post_chunk
from tests.report_arithmetic import Item, Ledger, day_figures, f5_boxes
from tests.shop import make_shop, sale

KINDS = ("companies", "outlets", "users", "products", "customers", "stock")
FIGURES = (
    "sales",
    "returns",
    "gross_sales",
    "discounts",
    "refunds",
    "net_sales",
    "tax",
    "rounding",
    "total_collected",
    "tenders",
    "change_given",
    "expected_cash",
    "by_gst_rate",
)
DAY = "2025-03-01"


def import_master(db: Any, master: dict[str, list[dict[str, Any]]]) -> None:
    for kind in KINDS:
        import_rows(db, kind, io.StringIO(as_csv(master[kind])))


def post_in_process(db: Any, requests: list[dict[str, Any]]) -> None:
    ids = receive(db, requests)
    for start in range(0, len(ids), 200):
        posted = post_chunk(db, ids[start : start + 200])
        if set(posted.counts) != {"POSTED"}:
            rejected = [d for d in outcomes(db, ids[start : start + 200]) if d["outcome"] != "POSTED"]
            raise AssertionError(rejected)


def the_figures(document: dict[str, Any]) -> dict[str, Any]:
    return {key: document[key] for key in FIGURES}


def reconciles(document: dict[str, Any]) -> bool:
    """net sales + GST + rounding = total collected = tenders - change."""
    d = {k: Decimal(document[k]) for k in ("net_sales", "tax", "rounding", "total_collected", "change_given")}
    tenders = sum((Decimal(a) for a in document["tenders"].values()), Decimal(0))
    return d["net_sales"] + d["tax"] + d["rounding"] == d["total_collected"] == tenders - d["change_given"]


def demo_master(company: str = "KOPI", included: bool = True, prefix: str = "") -> dict[str, list[dict[str, Any]]]:
    """The demo shop, with exempt and out-of-scope goods besides its zero-rated books; prices
    including GST (the demo's) or, for another company, excluding it."""
    shop = catalogue()
    for n, product in enumerate(shop["products"]):
        product["gst_category"] = ""  # the default: standard at 9%, zero-rated at 0%
        if n % 40 == 1:
            product.update(gst_rate="0.00", gst_category="out_of_scope")  # gift vouchers
        elif n % 7 == 3:
            product.update(gst_rate="0.00", gst_category="exempt")
    shop["companies"][0].update(code=company, prices_include_gst=str(included).lower())
    for kind in ("outlets", "users", "products", "customers"):
        for row in shop[kind]:
            row["company"] = company
    for row in shop["outlets"]:
        row["code"] = prefix + row["code"]
    for row in shop["stock"]:
        row["outlet"] = prefix + row["outlet"]
    return shop


def demo_requests() -> list[dict[str, Any]]:
    """The first 400 requests of a demo day and every return of it with its sale (the generator
    returns only after 1,500 sales): every kind of request, at a fraction of the posting time."""
    day = [json.loads(line) for line in day_of_sales(2200, seed=1, bad=False, day=DAY)]
    returns = [r for r in day if r.get("kind") == "return"]
    wanted = {r["request_id"] for r in day[:400]} | {r["request_id"] for r in returns}
    wanted |= {r["original_request_id"] for r in returns}
    return [r for r in day if r["request_id"] in wanted]


def items_of(master: dict[str, list[dict[str, Any]]]) -> dict[str, Item]:
    def category(p: dict[str, Any]) -> str:
        return p["gst_category"] or ("standard" if Decimal(p["gst_rate"]) > 0 else "zero_rated")

    return {p["sku"]: Item(Decimal(p["price"]), Decimal(p["gst_rate"]), category(p)) for p in master["products"]}


def excluded_day(requests: list[dict[str, Any]], ledger: Ledger) -> list[dict[str, Any]]:
    """The same day for a company whose prices exclude GST: outlets and ids prefixed, tenders paid
    to what the test's arithmetic says is due (cash in whole dollars, with change; others exactly)."""
    out = []
    for original in requests:
        request = json.loads(json.dumps(original))
        request["request_id"] = "X" + request["request_id"]
        request["outlet"] = "X" + request["outlet"]
        if request.get("original_request_id"):
            request["original_request_id"] = "X" + request["original_request_id"]
        methods = [t["method"] for t in original["tenders"]]
        method = "CASH" if all(m == "CASH" for m in methods) else next(m for m in methods if m != "CASH")
        request["tenders"] = [{"method": method, "amount": "0"}]
        due, _, _ = ledger.due(request)
        if due == 0:
            request["tenders"] = [{"method": "CASH", "amount": "1.00"}]
        elif method == "CASH" and request.get("kind") != "return":
            request["tenders"] = [{"method": "CASH", "amount": str(due.to_integral_value(rounding="ROUND_CEILING"))}]
        else:
            request["tenders"] = [{"method": method, "amount": str(due)}]
        ledger.post(request)
        out.append(request)
    return out


def test_every_figure_of_a_demo_day_is_the_tests_own_sum_for_gst_included_and_excluded_companies(sessions):
    # Given the demo day (walk-ins, members, web orders, discounts, returns of earlier sales, cash
    # rounding and change; standard, zero-rated, exempt and out-of-scope goods), posted for the
    # demo company (prices include GST) and again for a company whose prices exclude GST
    included_master, excluded_master = demo_master(), demo_master("EXCL", included=False, prefix="X")
    import_master(sessions, included_master)
    import_master(sessions, excluded_master)
    requests = demo_requests()
    assert sum(1 for r in requests if r.get("kind") == "return") >= 10
    included = Ledger(items_of(included_master), included=True)
    for request in requests:
        included.post(request)
    excluded = Ledger(items_of(excluded_master), included=False)
    excluded_requests = excluded_day(requests, excluded)
    post_in_process(sessions, requests + excluded_requests)

    # When each outlet's X report is read, and one outlet's Z issued
    for ledger, prefix in ((included, ""), (excluded, "X")):
        for outlet in ("ORCH", "TAMP", "JEM", "WEB"):
            document = reports.x_report(sessions, prefix + outlet, DAY)
            # Then every figure is the test's own sum, to the cent, and they reconcile
            assert the_figures(document) == day_figures(ledger, prefix + outlet, date(2025, 3, 1)), outlet
            assert reconciles(document)
            assert document["counted_cash"] is None and document["over_short"] is None
        z = reports.z_report(sessions, prefix + "ORCH", DAY)
        assert z["number"] == 1 and the_figures(z) == day_figures(ledger, prefix + "ORCH", date(2025, 3, 1))
        # And a cashier's X holds that cashier's sales only
        amy = reports.x_report(sessions, prefix + "TAMP", DAY, cashier="amy")
        assert the_figures(amy) == day_figures(ledger, prefix + "TAMP", date(2025, 3, 1), cashier="amy")

    # And the quarter's GST F5 boxes are the test's own, per company
    for ledger, company in ((included, "KOPI"), (excluded, "EXCL")):
        f5 = reports.gst_return(sessions, company, "2025Q1", None, None)
        assert {k: f5[k] for k in ("box1", "box2", "box3", "box4", "box6", "out_of_scope")} == f5_boxes(
            ledger, date(2025, 1, 1), date(2025, 3, 31)
        )
        assert all(Decimal(f5[box]) > 0 for box in ("box1", "box2", "box3", "box6", "out_of_scope"))
        assert "Box 5" in f5["note"] and "Box 7" in f5["note"]
    assert reports.gst_return(sessions, "KOPI", "2025Q2", None, None)["box4"] == "0.00"


def small_day(sessions: Any) -> Any:
    with sessions.begin() as s:
        make_shop(s, outlets=("ORCH", "TAMP"), stock={"TEA": 100, "MUG": 100})
    post_in_process(
        sessions,
        [
            sale("S1", [("TEA", "3")], [("CASH", "20.00")]),  # 13.50 cash, 6.50 change
            sale("S2", [("MUG", "1"), ("BOOK", "1")], [("CARD", "32.90")]),
            sale("S3", [("TEA", "1")], [("CASH", "5.00")], occurred_at="2025-03-02T09:00:00+08:00"),
            sale("S4", [("TEA", "2")], [("NETS", "9.00")], outlet="TAMP"),
            sale("S5", [("TEA", "1")], [("NETS", "4.50")], outlet="TAMP", occurred_at="2025-03-02T09:00:00+08:00"),
        ],
    )
    return sessions


def test_a_z_is_issued_once_numbered_per_outlet_without_gaps_and_never_rewritten(sessions):
    db = small_day(sessions)
    # Given a count of ORCH's drawer 0.50 short of the cash it should hold (13.50)
    reports.cash_count(db, "ORCH", DAY, "13.00", by="amy")

    # When ORCH's Z for the day is issued, then asked for again
    first = reports.z_report(db, "ORCH", DAY)
    again = reports.z_report(db, "ORCH", DAY)

    # Then it is number 1 both times, with the same figures, the count and the shortfall
    assert first == again and first["number"] == 1
    assert (first["expected_cash"], first["counted_cash"], first["over_short"]) == ("13.50", "13.00", "-0.50")

    # And numbers run on per outlet with no gap
    assert reports.z_report(db, "ORCH", "2025-03-02")["number"] == 2
    assert reports.z_report(db, "TAMP", "2025-03-02")["number"] == 1
    assert reports.z_report(db, "TAMP", DAY)["number"] == 2

    # When a late sale for the day posts after its Z, and the drawer is counted again
    post_in_process(db, [sale("LATE", [("TEA", "2")], [("CASH", "10.00")])])
    reports.cash_count(db, "ORCH", DAY, "22.50")
    now = reports.x_report(db, "ORCH", DAY)

    # Then the X shows the current figures and what changed since the Z, and the Z is unchanged
    assert now["sales"] == 3 and now["z"]["number"] == 1
    assert now["since_z"] == {
        "sales": 1,
        "gross_sales": "8.26",
        "net_sales": "8.26",
        "tax": "0.74",
        "total_collected": "9.00",
        "change_given": "1.00",
        "expected_cash": "9.00",
        "counted_cash": "9.50",
        "over_short": "0.50",
        "tenders": {"CASH": "10.00"},
        "by_gst_rate": [{"rate": "9.00", "base": "8.26", "tax": "0.74"}],
    }
    assert (now["counted_cash"], now["over_short"]) == ("22.50", "0.00")
    assert reports.z_report(db, "ORCH", DAY) == first


def test_a_z_is_refused_while_requests_of_its_outlet_and_day_are_pending(sessions):
    db = small_day(sessions)
    # Given two requests for ORCH on the day received but not yet posted, one at 23:30 UTC the day
    # before (07:30 in Singapore: the same business day), and one for another day
    receive(
        db,
        [
            sale("P1", [("TEA", "1")], [("CASH", "5.00")]),
            sale("P2", [("TEA", "1")], [("CASH", "5.00")], occurred_at="2025-02-28T23:30:00+00:00"),
            sale("P3", [("TEA", "1")], [("CASH", "5.00")], occurred_at="2025-03-02T10:00:00+08:00"),
        ],
    )
    # When its Z is asked for, then it is refused, saying how many
    with pytest.raises(ZReportRefused) as refused:
        reports.z_report(db, "ORCH", DAY)
    assert refused.value.pending == 2 and "2 request(s)" in str(refused.value)
    # And another outlet's day is not held back
    assert reports.z_report(db, "TAMP", DAY)["number"] == 1


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda db: reports.x_report(db, "ORCH", "2025-02-30"), "date"),
        (lambda db: reports.x_report(db, "ORCH", "yesterday"), "date"),
        (lambda db: reports.gst_return(db, "ACME", "2025Q5", None, None), "period"),
        (lambda db: reports.gst_return(db, "ACME", None, "2025-03-31", "2025-03-01"), "from"),
        (lambda db: reports.gst_return(db, "ACME", "2025Q1", "2025-01-01", None), "period"),
        (lambda db: reports.cash_count(db, "ORCH", DAY, "abc"), "amount"),
        (lambda db: reports.cash_count(db, "ORCH", DAY, "-5"), "amount"),
        (lambda db: reports.cash_count(db, "ORCH", DAY, "NaN"), "amount"),
        (lambda db: reports.cash_count(db, "ORCH", DAY, "1.005"), "amount"),
    ],
)
def test_a_value_that_cannot_be_used_names_its_field(sessions, call, field):
    with sessions.begin() as s:
        make_shop(s)
    with pytest.raises(InvalidArgument) as bad:
        call(sessions)
    assert bad.value.field == field


def test_an_unknown_outlet_company_or_cashier_is_not_found(sessions):
    with sessions.begin() as s:
        make_shop(s)
        make_shop(s, code="BETA")
    for call in (
        lambda: reports.x_report(sessions, "NOPE", DAY),
        lambda: reports.x_report(sessions, "ORCH", DAY, company="BETA"),  # ORCH is ACME's
        lambda: reports.x_report(sessions, "ORCH", DAY, cashier="zed"),
        lambda: reports.gst_return(sessions, "NOPE", "2025Q1", None, None),
        lambda: reports.cash_count(sessions, "ORCH", DAY, "1.00", by="zed"),
    ):
        with pytest.raises(NotFound):
            call()


def test_gst_category_is_imported_defaulted_by_rate_exported_and_an_unknown_one_names_its_row(sessions):
    from domain.errors import ImportFailed
    from services.lookups import export_master_data

    with sessions.begin() as s:
        make_shop(s, products={})
    header = "company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier,gst_category\n"
    rows = "ACME,A,A,1.00,9,,true,,,,\nACME,B,B,1.00,0,,true,,,,\nACME,C,C,1.00,0,,true,,,,Exempt\n"
    import_rows(sessions, "products", io.StringIO(header + rows))
    out = io.StringIO()
    export_master_data(sessions, "products", out)
    assert [line.rsplit(",", 1)[1] for line in out.getvalue().splitlines()[1:]] == ["standard", "zero_rated", "exempt"]
    with pytest.raises(ImportFailed) as failed:
        import_rows(sessions, "products", io.StringIO(header + "ACME,D,D,1.00,9,,true,,,,luxury\n"))
    assert failed.value.problems == [
        (2, "gst_category: must be one of standard, zero_rated, exempt, out_of_scope ('luxury')")
    ]
