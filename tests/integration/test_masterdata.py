"""Master data CSV import and export against a real PostgreSQL (../shared/CLI.md, "Master data CSV columns")."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from textwrap import dedent

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from domain.errors import ImportFailed
from domain.masterdata.importing import KINDS, ImportReport, export_csv, import_csv
from domain.posting.stock import move_stock
from domain.tables import Base, Company, Customer, Outlet, Product, StockLevel, StockMovement, Supplier, User
from tests.shop import make_shop

Sessions = sessionmaker[Session]


def load(sessions: Sessions, kind: str, content: str) -> ImportReport:
    with sessions.begin() as session:
        return import_csv(session, kind, io.StringIO(dedent(content).lstrip("\n"), newline=""))


def refused(sessions: Sessions, kind: str, content: str) -> list[tuple[int, str]]:
    with pytest.raises(ImportFailed) as failure:
        load(sessions, kind, content)
    assert failure.value.kind == kind
    return failure.value.problems


def export(sessions: Sessions, kind: str) -> str:
    stream = io.StringIO(newline="")
    with sessions() as session:
        export_csv(session, kind, stream)
    return stream.getvalue()


def products(sessions: Sessions) -> list[tuple[object, ...]]:
    with sessions() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Product.sku,
                    Product.name,
                    Product.price,
                    Product.gst_rate,
                    Product.cost,
                    Product.track_inventory,
                    Product.reorder_point,
                    Product.reorder_target,
                    Supplier.name,
                )
                .outerjoin(Supplier, Supplier.id == Product.supplier_id)
                .order_by(Product.sku)
            )
        ]


def stock_of(sessions: Sessions, outlet_id: int, product_id: int) -> tuple[Decimal, Decimal, list[str]]:
    """(on hand, sum of movements, kinds of the movements) of one product at one outlet."""
    where = (StockMovement.outlet_id == outlet_id, StockMovement.product_id == product_id)
    with sessions() as session:
        level = session.scalar(
            select(StockLevel.on_hand).where(StockLevel.outlet_id == outlet_id, StockLevel.product_id == product_id)
        )
        total = session.scalar(select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(*where))
        kinds = list(session.scalars(select(StockMovement.kind).where(*where).order_by(StockMovement.id)))
    return level or Decimal(0), Decimal(total or 0), kinds


COMPANIES = """
    code,name,uen,gst_registration_number,prices_include_gst,currency
    ACME,Acme Pte Ltd,201912345K,M90312345X,true,
    KOPI,"Kopi & Co, Pte Ltd",202054321A,,No,usd
"""


def test_importing_companies_reads_booleans_and_defaults_currency_to_sgd(sessions: Sessions) -> None:
    report = load(sessions, "companies", COMPANIES)

    assert report == ImportReport("companies", rows=2, inserted=2, updated=0)
    with sessions() as session:
        rows = session.execute(
            select(
                Company.code,
                Company.name,
                Company.gst_registration_number,
                Company.prices_include_gst,
                Company.currency,
            ).order_by(Company.code)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("ACME", "Acme Pte Ltd", "M90312345X", True, "SGD"),
        ("KOPI", "Kopi & Co, Pte Ltd", None, False, "USD"),
    ]


def test_a_companies_file_without_currency_leaves_an_existing_currency_alone(sessions: Sessions) -> None:
    load(sessions, "companies", COMPANIES)

    load(
        sessions,
        "companies",
        """
        code,name,uen,gst_registration_number,prices_include_gst
        KOPI,Kopi Pte Ltd,202054321A,,false
        NEWCO,New Co,202099999B,,true
    """,
    )

    with sessions() as session:
        currencies = dict(session.execute(select(Company.code, Company.currency)).all())
    assert currencies == {"ACME": "SGD", "KOPI": "USD", "NEWCO": "SGD"}


def test_importing_outlets_users_and_customers_links_each_to_its_company(sessions: Sessions) -> None:
    load(sessions, "companies", COMPANIES)

    load(
        sessions,
        "outlets",
        """
        code,company,name,address
        KOPI-1,KOPI,Kopi Tampines,"1 Tampines Ave
        Singapore 529510"
    """,
    )
    load(sessions, "users", "company,username,full_name\nKOPI,amy,Amy Tan\nACME,amy,\n")
    load(sessions, "customers", "company,code,name,email\nKOPI,C001,Ben Lim,ben@example.sg\nKOPI,C002,,\n")

    with sessions() as session:
        kopi = session.scalar(select(Company.id).where(Company.code == "KOPI"))
        outlet = session.execute(select(Outlet.company_id, Outlet.address)).one()
        users = session.execute(
            select(Company.code, User.username, User.full_name)
            .join(Company, Company.id == User.company_id)
            .order_by(Company.code)
        ).all()
        customers = session.execute(
            select(Customer.company_id, Customer.code, Customer.name, Customer.email).order_by(Customer.code)
        ).all()
    assert tuple(outlet) == (kopi, "1 Tampines Ave\nSingapore 529510")
    assert [tuple(u) for u in users] == [("ACME", "amy", ""), ("KOPI", "amy", "Amy Tan")]
    assert [tuple(c) for c in customers] == [(kopi, "C001", "Ben Lim", "ben@example.sg"), (kopi, "C002", "", None)]


PRODUCTS = """
    company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier
    ACME,TEA,Teh Tarik,4.5,,1.2345,,5,20,Leong Trading
    ACME,VOUCHER,Gift voucher,50.00,0,,FALSE,,,
"""


def test_importing_products_keeps_exact_decimals_fills_defaults_and_adds_suppliers(sessions: Sessions) -> None:
    with sessions.begin() as session:
        make_shop(session, products={})

    report = load(sessions, "products", PRODUCTS)

    assert report == ImportReport("products", rows=2, inserted=2, updated=0)
    assert products(sessions) == [
        (
            "TEA",
            "Teh Tarik",
            Decimal("4.5000"),
            Decimal("9.00"),
            Decimal("1.2345"),
            True,
            Decimal("5.000"),
            Decimal("20.000"),
            "Leong Trading",
        ),
        ("VOUCHER", "Gift voucher", Decimal("50.0000"), Decimal("0.00"), None, False, None, None, None),
    ]


def test_reimporting_updates_rows_by_their_key_instead_of_adding_duplicates(sessions: Sessions) -> None:
    # Given a catalogue already imported
    with sessions.begin() as session:
        make_shop(session, products={})
    load(sessions, "products", PRODUCTS)

    # When the same file comes again with one price changed, one row as it was, and one new product
    report = load(
        sessions,
        "products",
        """
        company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier
        ACME,TEA,Teh Tarik,4.80,,1.2345,,5,20,Leong Trading
        ACME,VOUCHER,Gift voucher,50.00,0,,FALSE,,,
        ACME,MUG,Mug,12.90,,,,,,Leong Trading
    """,
    )

    # Then only the changed and the new rows count, and each sku is there once
    assert report == ImportReport("products", rows=3, inserted=1, updated=1)
    assert [(sku, price) for sku, _, price, *_ in products(sessions)] == [
        ("MUG", Decimal("12.9000")),
        ("TEA", Decimal("4.8000")),
        ("VOUCHER", Decimal("50.0000")),
    ]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Supplier).where(Supplier.name == "Leong Trading")) == 1


def test_a_file_with_several_bad_rows_reports_every_one_by_line_and_imports_nothing(sessions: Sessions) -> None:
    # Given a catalogue in which TEA costs 4.50
    with sessions.begin() as session:
        make_shop(session, products={"TEA": {"price": Decimal("4.50")}})
    before = products(sessions)

    # When a file updates TEA correctly but also has bad rows (line 3 holds a two-line name, line 5 is blank)
    problems = refused(
        sessions,
        "products",
        """
        company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier
        ACME,TEA,Teh Tarik,4.80,,,,,,
        ACME,KAYA,"Kaya toast
        set",1.23456,100,-1,maybe,10,5,

        XYZ,BUN,Bun,-2,,,,,,
        ACME,TEA,Teh Tarik again,4.80,,,,,,
        ACME,,,,,,,,,
        ACME,SOY,Soy milk,abc,,,,,
    """,
    )

    # Then every problem is listed with its physical line, and nothing changed (not even TEA's good row)
    assert problems == [
        (3, "name: holds a control character (U+000A)"),
        (3, "price: has more than 4 decimal places (1.23456)"),
        (3, "gst_rate: must be below 100 (100)"),
        (3, "cost: must not be negative (-1)"),
        (3, "track_inventory: must be true or false ('maybe')"),
        (3, "reorder_target: is below reorder_point (5 < 10)"),
        (6, "company: unknown company 'XYZ'"),
        (6, "price: must not be negative (-2)"),
        (7, "sku: 'TEA' already appears on line 2"),
        (8, "sku: is required"),
        (8, "name: is required"),
        (8, "price: is required"),
        (9, "has 9 fields, the header has 10"),
    ]
    assert products(sessions) == before


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (
            "company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier,colour",
            "colour: unknown column",
        ),
        (
            "company,sku,name,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier",
            "price: missing column",
        ),
        (
            "company,sku,name,price,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier",
            "price: column appears more than once",
        ),
    ],
)
def test_a_header_with_an_unknown_missing_or_repeated_column_is_refused_naming_it(
    sessions: Sessions, header: str, problem: str
) -> None:
    with sessions.begin() as session:
        make_shop(session, products={})

    problems = refused(sessions, "products", f"{header}\nACME,TEA,Tea,4.50,,,,,,,\n")

    assert [(line, message.split(" (expected")[0]) for line, message in problems] == [(1, problem)]
    assert products(sessions) == []


def test_an_empty_file_is_refused_because_the_header_is_required(sessions: Sessions) -> None:
    assert refused(sessions, "users", "") == [(1, "the file is empty: a header row is required")]


def test_an_outlet_cannot_move_to_another_company(sessions: Sessions) -> None:
    with sessions.begin() as session:
        make_shop(session, "ACME")
        make_shop(session, "BETA")

    problems = refused(sessions, "outlets", "code,company,name,address\nORCH,BETA,Beta Orchard,\n")

    assert problems == [(2, "company: outlet 'ORCH' belongs to company 'ACME'")]


def test_stock_import_sets_on_hand_through_adjustments_equal_to_the_sum_of_movements(sessions: Sessions) -> None:
    # Given TEA with 10 on hand at ORCH and no stock row yet for MUG
    with sessions.begin() as session:
        shop = make_shop(session, stock={"TEA": 10})
    orch, tea, mug = shop.outlet_ids["ORCH"], shop.product_ids["TEA"], shop.product_ids["MUG"]

    # When a stock take says 7 TEA and 2.5 MUG
    report = load(sessions, "stock", "outlet,sku,quantity\nORCH,TEA,7\nORCH,MUG,2.5\n")

    # Then each gets an ADJUSTMENT of the difference and on hand equals the sum of movements
    assert report == ImportReport("stock", rows=2, inserted=1, updated=1)
    assert stock_of(sessions, orch, tea) == (Decimal(7), Decimal(7), ["ADJUSTMENT", "ADJUSTMENT"])
    assert stock_of(sessions, orch, mug) == (Decimal("2.5"), Decimal("2.5"), ["ADJUSTMENT"])
    with sessions() as session:
        assert session.scalar(
            select(StockMovement.quantity)
            .where(StockMovement.product_id == tea)
            .order_by(StockMovement.id.desc())
            .limit(1)
        ) == Decimal(-3)


def test_reimporting_the_same_stock_writes_no_new_movement(sessions: Sessions) -> None:
    with sessions.begin() as session:
        make_shop(session)
    load(sessions, "stock", "outlet,sku,quantity\nORCH,TEA,7\nWEB,TEA,0\n")
    with sessions() as session:
        movements = session.scalar(select(func.count()).select_from(StockMovement))

    report = load(sessions, "stock", "outlet,sku,quantity\nORCH,TEA,7.000\nWEB,TEA,0\n")

    assert report == ImportReport("stock", rows=2, inserted=0, updated=0)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StockMovement)) == movements == 1


def test_stock_of_a_product_that_does_not_track_inventory_is_a_bad_row(sessions: Sessions) -> None:
    with sessions.begin() as session:
        make_shop(session)

    problems = refused(sessions, "stock", "outlet,sku,quantity\nORCH,TEA,3\nORCH,GIFTCARD,5\nNOPE,TEA,1\n")

    assert problems == [(3, "sku: product 'GIFTCARD' does not track inventory"), (4, "outlet: unknown outlet 'NOPE'")]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_an_outlet_of_one_company_cannot_take_stock_of_another_companys_sku(sessions: Sessions) -> None:
    # Given ACME sells TEA, while BETA sells only KOPI
    with sessions.begin() as session:
        make_shop(session, "ACME")
        make_shop(session, "BETA", products={"KOPI": {"price": Decimal("1.80")}})

    # When ACME's outlet counts BETA's sku, and BETA's outlet counts ACME's
    problems = refused(sessions, "stock", "outlet,sku,quantity\nORCH,KOPI,4\nBETA-ORCH,TEA,4\nBETA-ORCH,KOPI,4\n")

    # Then both are unknown to the outlet's company, and even the good row is not imported
    assert problems == [
        (2, "sku: unknown sku 'KOPI' for company 'ACME'"),
        (3, "sku: unknown sku 'TEA' for company 'BETA'"),
    ]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(StockLevel)) == 0


def test_an_export_imported_into_an_empty_ledger_exports_the_same_files(sessions: Sessions) -> None:
    # Given a shop with quoting-worthy text, optional values left empty, and negative stock after an oversell
    with sessions.begin() as session:
        shop = make_shop(session, stock={"TEA": 10, "MUG": 3})
        move_stock(session, shop.outlet_ids["WEB"], {shop.product_ids["MUG"]: Decimal("-4.5")}, "ADJUSTMENT")
    load(sessions, "companies", COMPANIES)
    load(sessions, "products", PRODUCTS.replace("Teh Tarik", '"Teh ""Tarik"", hot"'))
    load(sessions, "customers", 'company,code,name,email,address\nACME,C002,,,"1 ""Quoted"" Rd, <&>\n#01-02"\n')
    exported = {kind: export(sessions, kind) for kind in KINDS}

    # When the ledger is emptied and every file is imported back, in dependency order
    with sessions.begin() as session:
        session.execute(text("TRUNCATE " + ", ".join(t.name for t in Base.metadata.sorted_tables) + " CASCADE"))
    for kind in KINDS:
        load(sessions, kind, exported[kind])

    # Then every export reads as before
    assert {kind: export(sessions, kind) for kind in KINDS} == exported
    assert exported["stock"].splitlines() == [
        "outlet,sku,quantity",
        "ORCH,MUG,3.000",
        "ORCH,TEA,10.000",
        "WEB,MUG,-1.500",
        "WEB,TEA,10.000",
    ]
    assert 'ACME,TEA,"Teh ""Tarik"", hot",4.5000,9.00,1.2345,true,5.000,20.000,Leong Trading' in exported["products"]
    assert exported["customers"].endswith('ACME,C002,,,"1 ""Quoted"" Rd, <&>\n#01-02"\r\n')


# Customers' addresses (printed on a full tax invoice) -------------------------------------------


def addresses(sessions: Sessions) -> dict[str, str | None]:
    with sessions() as session:
        return dict(session.execute(select(Customer.code, Customer.address)).all())


def test_an_address_may_span_lines_of_a_quoted_cell_each_line_trimmed_and_blank_lines_dropped(
    sessions: Sessions,
) -> None:
    with sessions.begin() as session:
        make_shop(session, products={})
    # Given a spreadsheet export: CRLF line breaks, a break inside a quoted cell, padding, a blank
    # line, quotes, commas, markup and non-ASCII text
    content = (
        "company,code,name,email,address\r\n"
        'ACME,C001,Ben Lim,,"  Blk 5 ""Ang Mo Kio"" Ave 3, <#08-1234>  \r\n\r\n  新加坡 560005 & co "\r\n'
        "ACME,C002,Cho Wei,,\r\n"
    )
    with sessions.begin() as session:
        import_csv(session, "customers", io.StringIO(content, newline=""))
    address = 'Blk 5 "Ang Mo Kio" Ave 3, <#08-1234>\n新加坡 560005 & co'
    assert addresses(sessions) == {"C001": address, "C002": None}

    # And the export reads back, through the csv module, as the same address
    rows = list(csv.reader(io.StringIO(export(sessions, "customers"), newline="")))
    assert rows[0] == ["company", "code", "name", "email", "address"]
    assert rows[1] == ["ACME", "C001", "Ben Lim", "", address]


def test_a_customers_file_without_the_address_column_keeps_the_addresses_and_an_empty_cell_clears_one(
    sessions: Sessions,
) -> None:
    with sessions.begin() as session:
        make_shop(session, products={})
    load(sessions, "customers", 'company,code,name,email,address\nACME,C001,Ben Lim,,"1 Road"\nACME,C002,,,2 Road\n')

    # When a file of the old columns renames a customer
    load(sessions, "customers", "company,code,name,email\nACME,C001,Benjamin Lim,\n")
    assert addresses(sessions) == {"C001": "1 Road", "C002": "2 Road"}

    # When a file with the column leaves C002's address empty
    load(sessions, "customers", "company,code,name,email,address\nACME,C002,,,\n")
    assert addresses(sessions) == {"C001": "1 Road", "C002": None}


def test_an_address_too_long_or_holding_a_control_character_is_a_bad_row_naming_the_column(
    sessions: Sessions,
) -> None:
    with sessions.begin() as session:
        make_shop(session, products={})
    longest = "x" * 500
    problems = refused(
        sessions,
        "customers",
        f"company,code,name,email,address\n"
        f"ACME,C001,,,{longest}\n"
        f"ACME,C002,,,{longest}y\n"
        f'ACME,C003,,,"1 Road\x00"\n'
        f"ACME,C004,Ben\x1b[31m,,\n",
    )
    assert problems == [
        (3, "address: is longer than 500 characters"),
        (4, "address: holds a control character (U+0000)"),
        (5, "name: holds a control character (U+001B)"),
    ]
    assert addresses(sessions) == {"C001": None}  # make_shop's own customer: nothing was imported


def test_a_line_break_or_tab_in_a_one_line_cell_is_a_bad_row_and_an_outlets_address_may_span_lines(
    sessions: Sessions,
) -> None:
    """Only addresses span lines: a name holding a line break would print as two lines on a receipt."""
    with sessions.begin() as session:
        make_shop(session, products={})

    companies = refused(
        sessions,
        "companies",
        'code,name,uen,gst_registration_number,prices_include_gst\nK,"Kopi\nTOTAL S$0.00",U1,,true\n'
        'L,"Tab\there",U2,,true\nM,"C\rR",U3,,true\nN,"N\x85EL",U4,,true\n',
    )
    load(sessions, "outlets", 'code,company,name,address\nORCH,ACME,Orchard,"  1 Orchard Rd  \r\n#01-01\n"\n')

    assert companies == [
        (2, "name: holds a control character (U+000A)"),
        (4, "name: holds a control character (U+0009)"),
        (5, "name: holds a control character (U+000D)"),
        (7, "name: holds a control character (U+0085)"),  # the CR above counts as a line,
    ]
    with sessions() as session:
        assert session.scalar(select(Outlet.address).where(Outlet.code == "ORCH")) == "1 Orchard Rd\n#01-01"


def test_quantities_and_prices_too_large_for_what_derives_from_them_are_bad_rows(sessions: Sessions) -> None:
    """Stock and reorder levels feed reorder quantities, prices feed line totals: each is bounded so
    that what is derived from it later always fits its column (a follow-up never overflows)."""
    with sessions.begin() as session:
        make_shop(session)
    header = "company,sku,name,price,gst_rate,cost,track_inventory,reorder_point,reorder_target,supplier"

    stock = refused(sessions, "stock", "outlet,sku,quantity\nWEB,MUG,-99999999990\nORCH,BOOK,99999999999.999\n")
    products = refused(
        sessions, "products", f"{header}\nACME,BIG,Big,10000000.01,9,,true,,,\nACME,TALL,Tall,1,9,,true,5,1000000001,\n"
    )

    assert stock == [
        (2, "quantity: is more than 1,000,000,000, the most it may be (-99999999990)"),
        (3, "quantity: is more than 1,000,000,000, the most it may be (99999999999.999)"),
    ]
    assert products == [
        (2, "price: is more than 10,000,000, the most it may be (10000000.01)"),
        (3, "reorder_target: is more than 1,000,000,000, the most it may be (1000000001)"),
    ]
