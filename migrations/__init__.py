"""Alembic migrations for the ledger (run with `tillpost db upgrade`)."""
