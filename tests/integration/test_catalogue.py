"""A chunk's catalogue: each product read once per chunk; an unknown SKU asked for again each time."""

from decimal import Decimal

from sqlalchemy import insert, update

from domain.posting.catalogue import Catalogue
from domain.posting.intake import receive
from domain.tables import Product
from services.posting import post_request
from tests.shop import make_shop, sale


def test_a_chunk_keeps_the_price_it_first_read_but_finds_a_product_added_meanwhile(sessions):
    # Given a shop and three requests posted as one chunk sharing a catalogue
    with sessions.begin() as s:
        shop = make_shop(s, stock={"TEA": 10})
        ids = receive(
            s,
            [
                sale("c1", [("TEA", "1")], [("CARD", "4.50")]),
                sale("c2", [("TEA", "1")], [("CARD", "4.50")]),
                sale("c3", [("SCONE", "1")], [("CARD", "3.00")]),
            ],
        )
    catalogue = Catalogue()
    assert post_request(sessions, ids[0], catalogue).outcome == "POSTED"

    # When the tea's price changes and a scone is added to the catalogue mid-chunk
    with sessions.begin() as s:
        s.execute(update(Product).where(Product.sku == "TEA").values(price=Decimal("9.99")))
        s.execute(insert(Product).values(company_id=shop.company_id, sku="SCONE", name="Scone", price=Decimal("3.00")))

    # Then the chunk still prices tea as it first read it, and finds the scone it had never seen
    assert post_request(sessions, ids[1], catalogue).outcome == "POSTED"
    assert post_request(sessions, ids[2], catalogue).outcome == "POSTED"
    # And a new chunk sees the new price (4.50 tendered no longer covers 9.99)
    with sessions.begin() as s:
        (late,) = receive(s, [sale("c4", [("TEA", "1")], [("CARD", "4.50")])])
    assert post_request(sessions, late, Catalogue()).outcome == "REJECTED"
