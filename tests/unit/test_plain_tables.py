"""domain/plain_tables.py names columns of the ledger for the readers that must start fast; the
schema itself is domain/tables (and its migrations): every column named there must be one of its."""

from __future__ import annotations

import pytest

from domain import plain_tables
from domain.tables import Base


@pytest.mark.parametrize("plain", plain_tables.ALL, ids=lambda t: t.name)
def test_every_plain_column_is_a_column_of_the_mapped_table(plain):
    mapped = Base.metadata.tables[plain.name]
    assert {c.name for c in plain.columns} <= {c.name for c in mapped.columns}
