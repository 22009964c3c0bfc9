"""Receipts as IRAS asks for them (README "Receipts"): a simplified tax invoice only up to S$1,000
with every line at one positive GST rate, a full tax invoice naming a known member and their
address, a walk-in told that a full one is issued on request, and credit notes naming their
original invoice and reason. In process through the use cases; one test end to end with workers."""

from __future__ import annotations

import json
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import select, update

from domain.followups import receipt_data
from domain.tables import Company, Customer, Outlet, Product, Receipt, Tender
from domain.vocabulary import FollowUpKind
from services.followups import run_follow_up
from services.lookups import receipt_document
from tests.batch_support import tillpost, tillpost_json
from tests.followup_support import post, transaction_number
from tests.plans import generic_plan, rows_read_from
from tests.shop import make_shop, sale
from tests.workers import wait_until

ADDRESS = "12 Clementi Road\n#03-01 Blk 5\nSingapore 129000"
CATALOGUE = {
    "TV": {"price": Decimal("1200.00"), "name": "TV"},  # 9% GST
    "TEA": {"price": Decimal("4.50")},
    "BOOK": {"price": Decimal("20.00"), "gst_rate": Decimal(0)},
}


@pytest.fixture
def shop(sessions):
    """ACME (GST-registered, prices include GST) with member C001 Ben Lim at ADDRESS."""
    with sessions.begin() as s:
        make_shop(s, products=CATALOGUE)
        s.execute(update(Customer).values(address=ADDRESS))


def receipt_of(sessions, sale_id) -> dict[str, str]:
    """Run the receipt follow-up as a worker would (loyalty first), then read the stored receipt."""
    for kind in (FollowUpKind.LOYALTY, FollowUpKind.CUSTOMER_RECEIPT):
        run_follow_up(sessions, kind, [sale_id])
    return receipt_document(sessions, transaction_number(sessions, sale_id))


def gst_included(amount: str, rate: str = "9") -> Decimal:
    """The GST inside a GST-inclusive amount, to the cent, half up: amount x rate / (100 + rate)."""
    return (Decimal(amount) * Decimal(rate) / (100 + Decimal(rate))).quantize(Decimal("0.01"), ROUND_HALF_UP)


def amount_row(label: str, amount: str) -> str:
    """One row of the text receipt: the label, then the amount right-aligned to 42 characters."""
    return label + amount.rjust(42 - len(label)) + "\n"


def test_a_1200_dollar_member_sale_is_a_full_tax_invoice_with_the_members_name_and_address(sessions, shop):
    # When member C001 buys a S$1,200.00 TV
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    receipt = receipt_of(sessions, sale_id)

    # Then it is a full tax invoice naming the member and their address, line by line
    text = receipt["text"]
    assert receipt["kind"] == "TAX_INVOICE"
    assert "\n               TAX INVOICE\n" in text and "SIMPLIFIED" not in text
    assert "Customer: Ben Lim (C001)\n12 Clementi Road\n#03-01 Blk 5\nSingapore 129000\n" in text
    # And every particular of a tax invoice: supplier, number, date, quantity, amount excluding GST,
    # rate, GST, total including GST
    tax = gst_included("1200.00")
    assert "GST Reg No: M90312345X" in text and "1 ORCH Road, Singapore 238801" in text
    assert f"Transaction: {receipt['transaction_number']}\nDate: 01/03/2025 10:15\n" in text
    assert "TV (9% GST)\n" + amount_row("  1 x S$1,200.00", "S$1,200.00") in text
    assert amount_row("  excl. GST", f"S${Decimal('1200.00') - tax:,}") in text
    assert amount_row("Total excl. GST", f"S${Decimal('1200.00') - tax:,}") in text
    assert amount_row("GST at 9%", f"S${tax}") in text
    assert amount_row("TOTAL incl. GST", "S$1,200.00") in text
    assert "issued on request" not in text


def test_a_1200_dollar_walk_in_sale_says_a_full_tax_invoice_is_issued_on_request(sessions, shop):
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")]))
    receipt = receipt_of(sessions, sale_id)
    assert receipt["kind"] == "RECEIPT"
    assert "\n                 RECEIPT\n" in receipt["text"]
    assert "A full tax invoice is issued on request.\n" in receipt["text"]
    assert "TAX INVOICE" not in receipt["text"] and "Customer:" not in receipt["text"]


@pytest.mark.parametrize(
    ("price", "customer", "kind"),
    [
        ("999.00", None, "SIMPLIFIED_TAX_INVOICE"),
        ("999.00", "C001", "SIMPLIFIED_TAX_INVOICE"),  # a member under the limit needs no more
        ("1000.00", None, "SIMPLIFIED_TAX_INVOICE"),  # "does not exceed $1,000"
        ("1000.01", None, "RECEIPT"),
        ("1000.01", "C001", "TAX_INVOICE"),
    ],
)
def test_a_sale_at_one_rate_up_to_1000_dollars_is_a_simplified_tax_invoice(sessions, shop, price, customer, kind):
    sale_id = post(sessions, sale("S-1", [("TV", "1", price)], [("CARD", price)], customer=customer))
    receipt = receipt_of(sessions, sale_id)
    assert receipt["kind"] == kind
    assert ("SIMPLIFIED TAX INVOICE\n" in receipt["text"]) == (kind == "SIMPLIFIED_TAX_INVOICE")
    if kind == "SIMPLIFIED_TAX_INVOICE":
        assert f"Total includes 9% GST S${gst_included(price)}\n" in receipt["text"]


@pytest.mark.parametrize(
    ("lines", "paid", "customer", "kind"),
    [
        ([("TEA", "1"), ("BOOK", "1")], "24.50", None, "RECEIPT"),  # standard + zero-rated, a walk-in
        ([("TEA", "1"), ("BOOK", "1")], "24.50", "C001", "TAX_INVOICE"),  # ... a member
        ([("BOOK", "2")], "40.00", None, "RECEIPT"),  # zero-rated only: reg. 13(2) allows no simplified one
    ],
)
def test_a_sale_with_zero_rated_lines_is_never_called_simplified(sessions, shop, lines, paid, customer, kind):
    sale_id = post(sessions, sale("S-1", lines, [("CARD", paid)], customer=customer))
    receipt = receipt_of(sessions, sale_id)
    assert receipt["kind"] == kind
    assert "SIMPLIFIED" not in receipt["text"]
    assert ("A full tax invoice is issued on request." in receipt["text"]) == (kind == "RECEIPT")


def test_a_mixed_rate_member_invoice_states_each_rates_supplies_and_gst(sessions, shop):
    sale_id = post(sessions, sale("S-1", [("TEA", "2"), ("BOOK", "1")], [("CARD", "29.00")], customer="C001"))
    text = receipt_of(sessions, sale_id)["text"]
    tax = gst_included("9.00")
    assert amount_row("Supplies at 9%, excl. GST", f"S${Decimal('9.00') - tax}") in text
    assert amount_row("Supplies at 0%, excl. GST", "S$20.00") in text
    assert amount_row("Total excl. GST", f"S${Decimal('29.00') - tax}") in text
    assert amount_row("GST at 9%", f"S${tax}") + amount_row("GST at 0%", "S$0.00") in text


def test_a_full_invoice_says_what_master_data_lacks_instead_of_inventing_it(sessions, shop):
    with sessions.begin() as s:
        s.execute(update(Customer).values(name="", address=None))
        s.execute(update(Outlet).values(address=""))
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    text = receipt_of(sessions, sale_id)["text"]
    assert "Customer: C001\nCustomer name: not in master data\nCustomer address: not in master data\n" in text
    company = text.split("\n\n")[0].splitlines()
    assert [line.strip() for line in company[-2:]] == ["ACME ORCH", "Address: not in master data"]  # the supplier's


def test_a_company_without_a_gst_registration_issues_plain_receipts(sessions, shop):
    with sessions.begin() as s:
        s.execute(update(Company).values(gst_registration_number=None))
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    receipt = receipt_of(sessions, sale_id)
    assert receipt["kind"] == "RECEIPT"
    assert "GST" not in receipt["text"] and "issued on request" not in receipt["text"]


def test_a_sale_in_another_currency_is_never_simplified_and_says_its_currency(sessions, shop):
    # Given a company selling in US dollars (the web fixtures' currency): no exchange rate is on file
    with sessions.begin() as s:
        s.execute(update(Company).values(currency="USD"))
    small = post(sessions, sale("S-1", [("TEA", "1")], [("CARD", "4.50")]))
    member = post(sessions, sale("S-2", [("TEA", "1")], [("CARD", "4.50")], customer="C001"))
    walk_in, invoice = receipt_of(sessions, small), receipt_of(sessions, member)
    # Then S$1,000 is never compared with dollars of another currency: no simplified invoice
    assert (walk_in["kind"], invoice["kind"]) == ("RECEIPT", "TAX_INVOICE")
    assert "Amounts in USD." in walk_in["text"] and "A full tax invoice is issued on request." in walk_in["text"]
    assert amount_row("TOTAL incl. GST", "USD 4.50") in invoice["text"] and "S$" not in invoice["text"]
    assert "SGD equivalents: no exchange rate in master data." in invoice["text"]


# Credit notes ------------------------------------------------------------------------------------


def test_a_credit_note_names_the_original_invoices_number_and_date_and_the_reason(sessions, shop):
    # Given a member's TV sale on 1 March, returned on 4 March with a note
    sold = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    back = post(
        sessions,
        sale(
            "B-1",
            [("TV", "1")],
            [("CARD", "1200.00")],
            kind="return",
            original_request_id="S-1",
            occurred_at="2025-03-04T16:00:00+08:00",
            notes="Screen  cracked\non delivery",
        ),
    )
    original = receipt_of(sessions, sold)
    note = receipt_of(sessions, back)

    # Then the credit note has its own number and date, the original's number and date, the reason,
    # the member, and the amounts credited with and without GST
    text = note["text"]
    tax = gst_included("1200.00")
    assert note["kind"] == "CREDIT_NOTE" and "\n               CREDIT NOTE\n" in text
    assert (
        f"Transaction: {note['transaction_number']}\nDate: 04/03/2025 16:00\n"
        f"Original invoice: {original['transaction_number']} of 01/03/2025\n"
        "Reason: Screen cracked on delivery\n"
    ) in text
    assert "Customer: Ben Lim (C001)\n12 Clementi Road\n" in text
    assert "TV (9% GST)\n" + amount_row("  1 x S$1,200.00", "-S$1,200.00") in text
    assert amount_row("Total excl. GST", f"-S${Decimal('1200.00') - tax:,}") in text
    assert amount_row("GST at 9%", f"-S${tax}") in text
    assert amount_row("TOTAL incl. GST", "-S$1,200.00") in text


def test_a_credit_note_without_notes_says_goods_returned_and_without_an_original_says_so(sessions, shop):
    back = post(sessions, sale("B-1", [("TEA", "1")], [("CASH", "4.50")], kind="return"))
    text = receipt_of(sessions, back)["text"]
    assert "Original invoice: none (no original invoice)\nReason: goods returned\n" in text
    assert "Customer:" not in text  # neither the request nor an original names a member


# What a stored receipt keeps ---------------------------------------------------------------------


def test_a_receipt_keeps_the_name_and_address_that_were_true_when_it_was_made(sessions, shop):
    # Given a member's full tax invoice, made after the sale posted
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    made = receipt_of(sessions, sale_id)
    # When the customer is renamed and moves, and the receipt follow-up runs again
    with sessions.begin() as s:
        s.execute(update(Customer).values(name="Benjamin Lim", address="1 Elsewhere Lane"))
    again = receipt_of(sessions, sale_id)
    # Then the stored receipt is the one made at the time, unchanged
    assert again == made
    assert "Ben Lim (C001)" in again["text"] and "Benjamin" not in again["text"]


def test_an_address_with_markup_and_odd_characters_is_printed_as_written_and_escaped_in_html(sessions, shop):
    odd = 'Blk 5 <Ang Mo Kio> & "Ave" 3\n#08-1234, 新加坡 560005'
    with sessions.begin() as s:
        s.execute(update(Customer).values(address=odd))
    sale_id = post(sessions, sale("S-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001"))
    receipt = receipt_of(sessions, sale_id)
    assert f"Customer: Ben Lim (C001)\n{odd}\n" in receipt["text"]
    assert "Blk 5 &lt;Ang Mo Kio&gt; &amp; &quot;Ave&quot; 3<br>#08-1234, 新加坡 560005" in receipt["html"]
    assert "<Ang" not in receipt["html"]


def test_line_breaks_and_control_characters_in_names_and_references_never_start_a_line_of_their_own(sessions, shop):
    # Given master data and a tender reference carrying line breaks, a terminal escape and a
    # right-to-left override: the import and the wire format refuse them now, but a ledger keeps
    # what was stored before they did (written here directly, as it would be found)
    with sessions.begin() as s:
        s.execute(update(Company).values(name='Kopi <script>alert("x")</script>\nTOTAL'))
        s.execute(update(Outlet).values(name='"><img src=x onerror=alert(1)>\r'))
        s.execute(update(Customer).values(name="Ben & Co\x85Lim"))
        s.execute(update(Product).where(Product.sku == "TEA").values(name="Teh\r\nS$0.01\tTarik"))
    sale_id = post(sessions, sale("S-1", [("TEA", "1")], [("CARD", "4.50")], customer="C001"))
    with sessions.begin() as s:
        s.execute(
            update(Tender).where(Tender.sale_id == sale_id).values(reference="ref\nChange  S$999.00\x1b[2J\u202e05.4")
        )

    receipt = receipt_of(sessions, sale_id)

    # Then each name and the reference stays on its own row, as one line, with no control character
    text = receipt["text"]
    for shown in (text, receipt["html"]):
        for odd in ("\r", "\t", "\x1b", "\x85", "\u202e"):
            assert odd not in shown, (odd, shown)
    assert 'Kopi <script>alert("x")</script> TOTAL\n' in text
    assert "Teh S$0.01 Tarik\n" in text
    assert "Member: Ben & Co Lim (C001)\n" in text
    lines = [line.strip() for line in text.splitlines()]
    assert "TOTAL" not in lines
    assert not any(line.startswith(("S$0.01", "Change  S$999.00")) for line in lines)
    assert "CARD ref Change  S$999.00 [2J 05.4" in text
    # And the HTML escapes all of it, its title included
    assert "<script>" not in receipt["html"] and "<img" not in receipt["html"]
    assert "Kopi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; TOTAL<br>" in receipt["html"]
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in receipt["html"]


def columns(line: str) -> int:
    """How many columns a line takes on a receipt printer or a terminal: a wide (CJK) character
    two, a combining mark none."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


ADDRESS_28_COLUMNS = "Cafe\u0301 Ame\u0301lie 义顺第一大道一号"  # 30 characters, 28 columns


def test_long_and_wide_names_are_centred_in_42_columns_and_amounts_stay_right_aligned(sessions, shop):
    # Given names longer than a receipt is wide: Latin, Chinese (two columns a character), with
    # combining accents, and a reference longer than a line
    company = "Kopitiam Holdings " * 8 + "新加坡咖啡店有限公司" * 3
    product = "Kaya toast set with soft-boiled eggs and kopi-c kosong " * 3 + "x" * 60
    reference = "pi_" + "9" * 70
    with sessions.begin() as s:
        s.execute(update(Company).values(name=company.strip()))
        s.execute(update(Outlet).values(address=ADDRESS_28_COLUMNS))
        s.execute(update(Product).where(Product.sku == "TEA").values(name=product.strip()))
    body = sale("S-1", [("TEA", "1")], [("CARD", "4.50")])
    body["tenders"][0]["reference"] = reference

    text = receipt_of(sessions, post(sessions, body))["text"]

    # Then the company's lines are centred within 42 columns, each amount ends in column 42 beside
    # its label's last line, and nothing is lost (a product's name is printed as it is)
    company_lines = text.split("\n\n")[0].splitlines()
    assert max(columns(line) for line in company_lines) <= 42, text
    assert " " * 7 + ADDRESS_28_COLUMNS in company_lines, text  # (42 - 28) / 2 columns before it
    assert f"{product.strip()}\n" in text
    assert "".join(text.split()).count("".join(company.split())) == 1
    assert "CARD" + reference in "".join(text.split())
    assert amount_row("", "S$4.50").strip() in text
    assert [line for line in text.splitlines() if line.endswith("S$4.50")] == [
        amount_row("  1 x S$4.50", "S$4.50").rstrip("\n"),
        amount_row("Subtotal", "S$4.50").rstrip("\n"),
        amount_row("TOTAL", "S$4.50").rstrip("\n"),
        line_ending_with(text, "S$4.50", "99"),
    ]


def line_ending_with(text: str, amount: str, before: str) -> str:
    """The line holding `amount` whose label ends with `before` (a wrapped label's last line)."""
    (line,) = [line for line in text.splitlines() if line.endswith(amount) and line.split()[0].endswith(before)]
    assert columns(line) == 42
    return line


# End to end --------------------------------------------------------------------------------------


@pytest.mark.pipeline
def test_workers_make_a_full_tax_invoice_for_a_member_imported_with_an_address(
    sessions, start_worker, pipeline_env, tmp_path
):
    # Given a shop whose customers file gives the member a two-line address (a quoted CSV cell)
    with sessions.begin() as s:
        make_shop(s, products=CATALOGUE)
    customers = tmp_path / "customers.csv"
    customers.write_text(
        'company,code,name,email,address\nACME,C001,Ben Lim,,"  12 Clementi Road  \n\nSingapore 129000"\n'
    )
    imported = tillpost(pipeline_env, "import", "customers", str(customers))
    assert imported.returncode == 0, imported.stderr
    start_worker(concurrency=1)

    # When the member's S$1,200 sale is submitted and its follow-ups run on the worker
    request = tmp_path / "sale.json"
    request.write_text(json.dumps(sale("E-1", [("TV", "1")], [("CARD", "1200.00")], customer="C001")))
    (posted,) = tillpost_json(pipeline_env, "submit", str(request), "--wait", "--json")
    number = posted["transaction_number"]
    wait_until(lambda: _stored(sessions, number), timeout=60, what="the receipt to be stored")

    # Then `tillpost receipt` shows a full tax invoice with the member's name and address
    shown = tillpost_json(pipeline_env, "receipt", number, "--json")
    assert (shown["transaction_number"], shown["kind"]) == (number, "TAX_INVOICE")
    assert "Customer: Ben Lim (C001)\n12 Clementi Road\nSingapore 129000\n" in shown["text"]
    plain = tillpost(pipeline_env, "receipt", number)
    assert plain.returncode == 0 and plain.stdout == shown["text"] + "\n"


def _stored(sessions, number: str) -> bool:
    with sessions() as s:
        return s.scalar(select(Receipt.kind).where(Receipt.transaction_number == number)) is not None


def test_a_set_of_receipts_reads_its_lines_and_tenders_sale_by_sale_even_on_a_generic_plan(sessions, shop):
    """Receipts run on sets of 200 sales, their statements prepared, so on a generic plan. Read by
    `tenders.sale_id = ANY(ids)`, a set's tenders were taken from a scan of the whole table testing
    each row against every id in turn (18 ms a set in a 20,000-sale day, pg_stat_statements). Each
    sale's lines and tenders are looked up by its id now (each_of), whatever the plan."""
    paid = [("CASH", "2.45")] * 10  # ten tenders a sale: a table of tenders ten times the set's
    sale_ids = [post(sessions, sale(f"R{n}", [("TEA", "1"), ("BOOK", "1")], paid)) for n in range(200)]
    wanted = sale_ids[-20:]
    with sessions.engine.connect() as conn:
        tenders = generic_plan(conn, receipt_data.tenders_of(wanted))
        lines = generic_plan(conn, receipt_data.lines_of(wanted))
    assert rows_read_from(tenders, "tenders") <= 2 * 10 * len(wanted)  # the set's 200, not all 2,000
    assert rows_read_from(lines, "sale_lines") <= 2 * 2 * len(wanted)  # the set's 40, not all 400
    with sessions() as s:  # and they are the sales' own, in order
        first, *_, last = receipt_data.load_receipts(s, wanted)
        assert [t.method for t in first.tenders] == ["CASH"] * 10
        assert [line.description for line in last.lines] == ["Tea", "Book"]
