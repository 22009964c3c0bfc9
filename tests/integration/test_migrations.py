"""The migrations build exactly the schema the code declares (no drift between domain/tables/ and Alembic)."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, make_url, text

from domain.db import make_engine
from domain.tables import Base
from migrations.schema import upgrade


def test_the_migrated_database_matches_the_declared_tables(engine):
    # Given the test database, built by the project's own migrations (tests/conftest.py)
    with engine.connect() as conn:
        # When Alembic compares it with the tables the code declares
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Then there is nothing to migrate
    assert differences == []


def test_the_migrated_check_constraints_are_the_declared_ones(engine):
    # Alembic does not compare CHECK constraints, and several are built from the ledger's words
    # (domain/vocabulary.py): a word added or renamed there needs a migration of its own.
    with engine.connect() as conn, conn.begin() as transaction:
        # Given the declared tables, created beside the migrated ones in a schema of their own
        conn.execute(text("CREATE SCHEMA declared"))
        Base.metadata.create_all(conn.execution_options(schema_translate_map={None: "declared"}))
        # When the CHECK constraints of both are read back as PostgreSQL states them
        migrated, declared = _checks(conn, "public"), _checks(conn, "declared")
        transaction.rollback()
    # Then they are the same, constraint by constraint
    assert migrated == declared
    assert ("follow_ups", "ck_follow_ups_kind") in migrated


def _checks(conn: Connection, schema: str) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        text("""
            SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE c.contype = 'c' AND n.nspname = :schema AND t.relname <> 'alembic_version'
        """),
        {"schema": schema},
    )
    return {(table, name): definition for table, name, definition in rows}


@pytest.fixture
def empty_database(service_settings):
    """A database of its own, with no migration applied yet; dropped afterwards."""
    server = make_url(service_settings.database_url)
    name = f"tillpost_migrate_{uuid.uuid4().hex[:10]}"
    admin = make_engine(
        server.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_receipts_stored_before_receipt_kinds_keep_their_text_and_get_the_kind_their_title_says(empty_database):
    # Given a ledger at revision 0005 holding three receipts: a registered company's sale and return,
    # and a sale of a company without a GST registration number
    upgrade(empty_database, "0005")
    engine = make_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO companies (id, code, name, uen, gst_registration_number) VALUES
                (1, 'ACME', 'ACME Pte Ltd', '201912345K', 'M90312345X'), (2, 'KOPI', 'Kopi', '202054321A', NULL);
            INSERT INTO outlets (id, code, company_id, name) VALUES (1, 'ORCH', 1, 'Orchard'), (2, 'TAMP', 2, 'Tamp');
            INSERT INTO sales (id, company_id, request_id, fingerprint, transaction_number, kind, outlet_id, channel,
                               occurred_at, subtotal, tax, rounding_adjustment, total, tendered, change_due)
            VALUES (1, 1, 'S-1', 'f', 'ORCH-1', 'sale', 1, 'pos', now(), 9, 0.74, 0, 9, 9, 0),
                   (2, 1, 'B-1', 'f', 'ORCH-2', 'return', 1, 'pos', now(), -9, -0.74, 0, -9, -9, 0),
                   (3, 2, 'S-1', 'f', 'TAMP-1', 'sale', 2, 'pos', now(), 5, 0, 0, 5, 5, 0);
            INSERT INTO receipts (sale_id, transaction_number, text, html) VALUES
                (1, 'ORCH-1', 'TAX INVOICE as it was', '<p>1</p>'), (2, 'ORCH-2', 'CREDIT NOTE as it was', '<p>2</p>'),
                (3, 'TAMP-1', 'RECEIPT as it was', '<p>3</p>');
            """)
        )

    # When the migrations run to the head
    upgrade(empty_database)

    # Then each receipt keeps its text and HTML, with the kind its own title declared
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT transaction_number, kind, text, html FROM receipts ORDER BY sale_id")).all()
        addresses = conn.execute(text("SELECT count(address) FROM customers")).scalar()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("ORCH-1", "TAX_INVOICE", "TAX INVOICE as it was", "<p>1</p>"),
        ("ORCH-2", "CREDIT_NOTE", "CREDIT NOTE as it was", "<p>2</p>"),
        ("TAMP-1", "RECEIPT", "RECEIPT as it was", "<p>3</p>"),
    ]
    assert addresses == 0
