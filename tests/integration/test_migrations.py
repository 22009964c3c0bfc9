"""The migrations build exactly the schema the code declares (no drift between tables.py and Alembic)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from domain.tables import Base


def test_the_migrated_database_matches_the_declared_tables(engine):
    # Given the test database, built by the project's own migrations (tests/conftest.py)
    with engine.connect() as conn:
        # When Alembic compares it with the tables the code declares
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    # Then there is nothing to migrate
    assert differences == []
