"""What a statement does on a generic plan (the plan PostgreSQL keeps for a statement psycopg has
prepared, made without the parameters' values): for tests that pin a statement's cost whatever
the statistics it was planned on."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import ClauseElement, Connection, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.compiler import SQLCompiler


def generic_plan(conn: Connection, query: ClauseElement) -> dict[str, Any]:
    """The executed plan (EXPLAIN ANALYZE) of `query` on a generic plan, forced."""
    dialect = postgresql.psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
    compiled = cast(SQLCompiler, query.compile(dialect=dialect))
    values = ", ".join(_literal(compiled.params[name]) for name in compiled.positiontup or ())
    name = f"plan_{uuid.uuid4().hex[:8]}"
    conn.execute(text("SET plan_cache_mode = force_generic_plan"))
    try:
        conn.exec_driver_sql(f"PREPARE {name} AS {compiled.string}")
        (explained,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE {name}({values})").scalar_one()
        conn.exec_driver_sql(f"DEALLOCATE {name}")
    finally:
        conn.execute(text("RESET plan_cache_mode"))
    return dict(explained["Plan"])


def rows_read_from(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of `table` returned, over all their loops, plus those they filtered out."""
    own = 0
    if plan.get("Relation Name") == table:
        removed = plan.get("Rows Removed by Filter", 0) + plan.get("Rows Removed by Index Recheck", 0)
        own = (plan["Actual Rows"] + removed) * plan["Actual Loops"]
    return own + sum(rows_read_from(child, table) for child in plan.get("Plans", ()))


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "ARRAY[" + ", ".join(str(int(v)) for v in value) + "]::bigint[]"
    return "'" + str(value).replace("'", "''") + "'"
