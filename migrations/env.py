"""Alembic environment: the target is domain.tables' metadata; the URL comes from the caller
(`runtime.schema.upgrade`) or, when run by the alembic command itself, from the settings."""

from alembic import context
from sqlalchemy import pool

from domain.db import make_engine
from domain.tables import Base

config = context.config


def _url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    from runtime import settings

    return settings.load().database_url


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
