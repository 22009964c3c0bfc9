"""The sale's write statement runs once a sale: psycopg parses a statement's placeholders once and
keeps the parse only for statements up to MAX_CACHED_STATEMENT_LENGTH characters (and 50 parameters).
A longer WRITE_SALE is parsed again on every sale (about 0.1 ms of a pool process's CPU each)."""

from psycopg import _queries
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from domain.posting.sale import WRITE_SALE


def test_the_write_statement_stays_within_what_psycopg_caches():
    compiled = WRITE_SALE.statement.compile(dialect=psycopg_dialect.dialect())
    assert len(str(compiled)) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= _queries.MAX_CACHED_STATEMENT_PARAMS
