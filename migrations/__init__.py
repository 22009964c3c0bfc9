"""Alembic migrations for the ledger (run with `tillpost db upgrade`)."""

# The newest revision under versions/: the schema this code reads and writes. A command refuses a
# database at any other (tests/unit/test_migrations_head.py holds it to Alembic's own head).
HEAD = "0009"
