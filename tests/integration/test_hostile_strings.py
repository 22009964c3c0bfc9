"""What a careless till, a hostile web client or odd master data can put in a string or a decimal, through
the front doors: each request ends in one recorded outcome (REJECTED / INVALID naming the field, or
POSTED and read back exactly), a refused HTTP call stores nothing, and a signed web delivery is
always recorded, never a 500.

The sale is written by one statement that takes its lines and tenders as JSON (domain/posting/sale.py),
and the follow-ups store receipts the same way: these cases pin that what reaches them is storable."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from domain.tables import Receipt, Sale, SaleLine, SaleRequestRow, Tender, WebDelivery
from services import lookups
from services.followups import run_every_follow_up
from services.posting import post_chunk
from tests.intake_support import KEY, bearer, shopify_headers, woo_headers, woo_order
from tests.shop import intake_row, make_shop, receive_one, sale

# A name with everything JSON or SQL might trip on: quotes, a JSON fragment, a backslash, an escape
# spelled out, an SQL comment, a character outside the BMP (a surrogate pair in JSON).
ODD_NAME = 'Tea "}, {"sku": "X"} \\ \\u0000 \'; -- \U0001f375'


@pytest.fixture
def shop(sessions):
    with sessions.begin() as s:
        make_shop(
            s,
            products={
                "TEA": {"price": Decimal("4.50"), "name": ODD_NAME},
                'SKU"}{\\': {"price": Decimal("1.00")},
                "MUG": {"price": Decimal("12.90")},
            },
            stock={"TEA": 100},
        )
    return sessions


def post_all(sessions, payloads: list[Any]) -> list[Any]:
    """Received together and posted as one chunk (the one-statement path), follow-ups run: the intake rows."""
    ids = [receive_one(sessions, p) for p in payloads]
    post_chunk(sessions, ids)
    with sessions() as s:
        rows = [intake_row(s, i) for i in ids]
    sale_ids = [r.sale_id for r in rows if r.sale_id is not None]
    if sale_ids:
        assert run_every_follow_up(sessions, sale_ids)[1] == []  # no follow-up handed over (failed)
    return rows


def _with(field: str, value: str) -> dict[str, Any]:
    body = sale("H-1", [("TEA", "2")], [("CASH", "9.00")])
    if field == "lines[0].sku":
        body["lines"][0]["sku"] = value
    elif field == "tenders[0].reference":
        body["tenders"][0]["reference"] = value
    elif field == "request_id":
        body["request_id"] = f"H-1{value}"
    else:
        body[field] = value
    return body


STRING_FIELDS = ("request_id", "outlet", "cashier", "customer", "lines[0].sku", "tenders[0].reference", "notes")


@pytest.mark.parametrize("control", ["\x1b[2J", "\x7f"], ids=repr)
@pytest.mark.parametrize("field", STRING_FIELDS)
def test_a_control_character_in_any_string_is_invalid_naming_the_field_and_the_rest_posts(shop, field, control):
    # Control characters would drive the terminal that prints a receipt (a tender's reference, a
    # return's notes) or `sale show`; master data refuses them the same way (domain/masterdata/fields.py).
    bad, good = post_all(shop, [_with(field, f"x{control}y"), sale("H-2", [("TEA", "1")], [("CASH", "4.50")])])

    assert (bad.outcome, bad.reason) == ("REJECTED", "INVALID"), bad.message
    assert bad.message.startswith(f"{field}: ") and "control character" in bad.message, bad.message
    assert good.outcome == "POSTED"
    with shop() as s:
        assert s.scalar(select(func.count()).select_from(Sale)) == 1


def test_line_breaks_and_tabs_in_notes_post_and_read_back(shop):
    (row,) = post_all(shop, [_with("notes", "gift wrap\n\tribbon\r\nthanks")])

    assert row.outcome == "POSTED", row.message
    with shop() as s:
        assert s.scalar(select(Sale.notes)) == "gift wrap\n\tribbon\r\nthanks"


@pytest.mark.parametrize(
    "value", ['"}, {"x": 1', "'; --", "back\\slash\\", "\\u0000", "tea \U0001f375", "R" * 97], ids=repr
)
def test_strings_that_look_like_json_or_sql_post_and_read_back_exactly(shop, value):
    request_id = f"H-{value}"[:100]
    body = sale(request_id, [('SKU"}{\\', "1"), ("TEA", "2")], [("CASH", "10.00")], notes=value)
    body["tenders"][0]["reference"] = value
    (row,) = post_all(shop, [body])

    assert row.outcome == "POSTED", row.message
    shown = lookups.sale_show(shop, request_id)
    assert (shown["request_id"], shown["outcome"], shown["total"]) == (request_id, "POSTED", "10.00")
    with shop() as s:
        assert s.scalar(select(Sale.notes)) == value
        assert s.scalar(select(Tender.reference)) == value
        assert sorted(s.scalars(select(SaleLine.description))) == sorted([ODD_NAME, 'Sku"}{\\'])
        receipt = s.scalar(select(Receipt.text))
    # a tender's label longer than a row is wrapped (its amount ends in column 42): compared without spacing
    unspaced = "".join(receipt.split())
    assert ODD_NAME in receipt and "CASH" + "".join(value.split()) + "S$10.00" in unspaced, receipt


@pytest.mark.parametrize(
    ("field", "spelling", "stored"),
    [
        ("quantity", "2E+0", Decimal("2")),
        ("quantity", "0.2E+1", Decimal("2")),
        ("quantity", "2.000", Decimal("2")),
        ("unit_price", "45E-1", Decimal("4.5")),
        ("unit_price", "4.5000", Decimal("4.5")),
        ("unit_price", "+4.50", Decimal("4.5")),
        ("discount", "-0", Decimal("0")),
        ("discount", "0E+3", Decimal("0")),
        ("amount", "1E+1", Decimal("10")),
        ("amount", "9.", Decimal("9")),
    ],
)
def test_decimal_spellings_post_as_the_number_they_spell(shop, field, spelling, stored):
    body = sale("D-1", [("TEA", "2")], [("CASH", "9.00")])
    if field == "amount":
        body["tenders"][0]["amount"] = spelling
    else:
        body["lines"][0][field] = spelling
    (row,) = post_all(shop, [body])

    assert row.outcome == "POSTED", row.message
    with shop() as s:
        line = s.execute(select(SaleLine.quantity, SaleLine.unit_price, SaleLine.discount)).one()
        tender = s.scalar(select(Tender.amount))
    got = {"quantity": line.quantity, "unit_price": line.unit_price, "discount": line.discount, "amount": tender}
    assert got[field] == stored
    assert lookups.sale_show(shop, "D-1")["total"] == "9.00"


def test_a_nul_character_over_http_is_refused_naming_the_field_and_nothing_is_stored(shop, intake):
    # It was 202 PENDING, echoing the request_id, while the request was stored REJECTED under no
    # request_id at all: the caller was told its sale was on its way, and could never look it up.
    for field in ("request_id", "notes", "outlet", "lines[0].sku", "tenders[0].reference"):
        body = json.dumps(_with(field, "x@@y")).replace("@@", "\\u0000").encode()

        reply = intake.post("/v1/sales", content=body, headers={**bearer(KEY), "Content-Type": "application/json"})

        assert reply.status_code == 422, (field, reply.text)
        assert [e["field"] for e in reply.json()["detail"]] == [field], reply.text
        assert "NUL" in reply.text
    with shop() as s:
        assert s.scalar(select(func.count()).select_from(SaleRequestRow)) == 0


def _woo(where: str, text: str) -> bytes:
    order = woo_order()
    if where == "id":
        order["id"] = "880@@"
    elif where == "billing email":
        order["billing"] = {"email": "ann@@@example.com"}
    else:
        order[where] = "processing@@"
    return json.dumps(order).replace("@@", text).encode()


def test_a_signed_delivery_with_unstorable_text_is_recorded_never_a_500(shop, intake: httpx.Client):
    # A NUL or a lone surrogate in the order's id, its e-mail (looked up among customers) or its
    # status (said in the delivery's note) was a 500, and the delivery was not recorded.
    cases = [(where, text) for where in ("id", "billing email", "status") for text in ("\\u0000", "\\ud800")]
    for n, (where, text) in enumerate(cases, start=1):
        body = _woo(where, text)

        reply = intake.post("/v1/webhooks/woocommerce", content=body, headers=woo_headers(body))

        assert reply.status_code == 202, (where, text, reply.text)
        with shop() as s:
            assert s.scalar(select(func.count()).select_from(WebDelivery)) == n
            order_id = s.scalar(select(WebDelivery.order_id).order_by(WebDelivery.id.desc()).limit(1))
        if where == "id":  # kept, made printable: a person can still find the order
            assert order_id in ("880\\x00", "880\\ud800"), order_id
    with shop() as s:  # the two orders whose id was unstorable: their sale requests INVALID, naming request_id
        rejected = s.scalars(select(SaleRequestRow.message).where(SaleRequestRow.reason == "INVALID")).all()
    assert len(rejected) == 2 and all("request_id" in m for m in rejected), rejected

    body = json.dumps({"id": "82@@", "financial_status": "paid"}).replace("@@", "\\u0000").encode()
    reply = intake.post("/v1/webhooks/shopify", content=body, headers=shopify_headers(body))

    assert reply.status_code == 202, reply.text
    with shop() as s:
        assert s.scalar(select(WebDelivery.order_id).where(WebDelivery.platform == "shopify")) == "82\\x00"
