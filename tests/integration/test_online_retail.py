"""A real trading day (UCI Online Retail, ../shared/data/online-retail) imported and posted through the
real `tillpost` command and real workers; and the converter checked against the year's odd days."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from domain.posting.pricing import ProductInfo, price_sale
from domain.posting.request import Kind, parse_request
from domain.tables import Outlet, Product, Sale, StockDiscrepancy, StockLevel
from tests.batch_support import requests_without_one_outcome, tillpost, tillpost_json
from tests.conftest import shared_path
from tests.online_retail import MASTER_KINDS, convert

pytestmark = pytest.mark.pipeline

# The smallest day with cancellations and walk-ins: 291 rows, 22 invoices (5 cancelled, 3 walk-in),
# three countries, 64 lines at price 0, and the non-goods codes M and POST.
DAY = ("data", "online-retail", "2010-12-22.csv")


def test_a_real_day_posts_every_invoice_once_with_its_cancellations_as_returns(
    sessions, start_worker, pipeline_env, tmp_path
):
    # Given one real day converted, and its master data imported through the command line
    day = convert(shared_path(*DAY), tmp_path / "day")
    assert len(day.returns) == 5 and len(day.walk_ins) == 3  # what makes this day worth posting
    assert len(day.request_ids) == len(day.invoices) == 22  # no invoice here needs cutting in two
    for kind in MASTER_KINDS:
        imported = tillpost(pipeline_env, "import", kind, str(day.master[kind]))
        assert imported.returncode == 0, f"{kind}: {imported.stderr}"
    start_worker(concurrency=2)

    # When the day's batch is posted and waited for
    document = tillpost_json(pipeline_env, "post", str(day.batch), "--wait", "--json", "--timeout", "120")

    # Then every invoice posted exactly once, each cancellation as a return, and the batch reconciles
    assert document["state"] == "DONE" and document["reconciled"] is True
    assert document["counts"] == {
        "POSTED": len(day.invoices),
        "DUPLICATE": 0,
        "CONFLICT": 0,
        "REJECTED": 0,
        "PENDING": 0,
    }
    assert requests_without_one_outcome(sessions, document["id"]) == []
    with sessions() as s:
        returns = s.scalars(select(Sale.request_id).where(Sale.kind == "return").order_by(Sale.request_id)).all()
        walk_ins = s.scalar(select(func.count()).select_from(Sale).where(Sale.customer_id.is_(None)))
        net = s.scalar(select(func.sum(Sale.total)))
        on_hand = {
            (outlet, sku): qty
            for outlet, sku, qty in s.execute(
                select(Outlet.code, Product.sku, StockLevel.on_hand)
                .join(Outlet, Outlet.id == StockLevel.outlet_id)
                .join(Product, Product.id == StockLevel.product_id)
            )
        }
        oversold = s.scalar(select(func.count()).select_from(StockDiscrepancy))
    assert returns == sorted(day.returns)
    assert walk_ins == len(day.walk_ins)
    # And the ledger holds what the source says: its net takings, and stock back where the cancellations put it
    assert net == day.net_sales == Decimal(document["totals"]["sales"])
    assert on_hand == day.stock_after and oversold == 0
    assert set(document["totals"]["by_outlet"]) == {"BE", "FR", "UK"}
    assert tillpost_json(pipeline_env, "check", "--json") == {"ok": True, "violations": []}


# Days holding the data's odd cases: an invoice of 527 rows (2010-12-01); "A" bad-debt invoices, one at a
# negative price, in British summer time (2011-08-12); stock write-offs at negative quantities, gift
# vouchers, C2, DOT and M (2011-02-18).
ODD_DAYS = ("2010-12-01.csv", "2011-08-12.csv", "2011-02-18.csv")


@pytest.mark.parametrize("name", ODD_DAYS)
def test_the_converter_turns_an_odd_day_into_requests_that_each_would_post(name, tmp_path):
    # Given a day with the data's surprises, converted
    day = convert(shared_path("data", "online-retail", name), tmp_path)
    with day.master["products"].open(newline="") as stream:
        products = {
            row["sku"]: ProductInfo(
                n,
                row["sku"],
                row["name"],
                Decimal(row["price"]),
                Decimal(row["gst_rate"]),
                row["track_inventory"] == "true",
            )
            for n, row in enumerate(csv.DictReader(stream))
        }

    # When each request is validated and priced by the ledger's own rules
    requests = [parse_request(line) for line in day.batch.read_text().splitlines()]
    priced = [price_sale(r, products, prices_include_gst=True) for r in requests]

    # Then none would be rejected, the takings are the source's, and every invoice is there
    assert sum(p.total for p in priced) == day.net_sales
    assert all(len(r.lines) <= 500 for r in requests)
    assert {r.request_id.split("/")[0] for r in requests} == set(day.invoices)
    assert sorted(r.request_id for r in requests if r.kind is Kind.RETURN) == sorted(day.returns)
    assert all(r.occurred_at.utcoffset() is not None for r in requests)
    assert all(json.loads(line)["tenders"][0]["method"] == "CASH" for line in day.batch.read_text().splitlines())


def test_the_converter_knows_the_odd_cases_it_claims_to(tmp_path):
    # Given the three odd days, converted
    days = {name: convert(shared_path("data", "online-retail", name), tmp_path / name) for name in ODD_DAYS}
    requests = {
        name: {r["request_id"]: r for r in map(json.loads, day.batch.read_text().splitlines())}
        for name, day in days.items()
    }

    # Then the long invoice is cut in two, bad debt at a negative price is a refund, and write-offs move no money
    assert [len(requests["2010-12-01.csv"][f"536544/{n}"]["lines"]) for n in (1, 2)] == [500, 27]
    bad_debt = requests["2011-08-12.csv"]
    assert [bad_debt[i]["kind"] for i in ("A563185", "A563186", "A563187")] == ["sale", "return", "return"]
    assert bad_debt["A563186"]["tenders"] == [{"method": "CASH", "amount": "11062.05"}]  # refunded to the 0.05
    assert bad_debt["A563185"]["occurred_at"].endswith("+01:00")
    write_offs = [r for r in requests["2011-02-18.csv"].values() if (r["notes"] or "").startswith("stock written off")]
    assert write_offs and all(line["unit_price"] in ("0", "0.0") for r in write_offs for line in r["lines"])
    with days["2011-02-18.csv"].master["products"].open(newline="") as stream:
        tracked = {row["sku"]: row["track_inventory"] for row in csv.DictReader(stream)}
    assert tracked["C2"] == tracked["DOT"] == tracked["M"] == tracked["gift_0001_30"] == "false"
