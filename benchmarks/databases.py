"""Fresh databases of one server for the benchmark's runs: each shape's master data is imported once,
through the project's own CSV import (as `tillpost import` and the demo do), into a template; every run
then starts from a copy of it (CREATE DATABASE ... TEMPLATE), so all runs of a shape start equal."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy import make_url, text

from domain.db import make_engine
from domain.masterdata.importing import KINDS
from frontends.demo_data import as_csv
from migrations.schema import upgrade
from runtime import settings
from services import masterdata
from services.unit_of_work import Database, connect


def database(db_url: str) -> Database:
    return connect(replace(settings.load(), configured_database_url=db_url))


def admin_execute(server_url: str, statement: str) -> None:
    admin = make_engine(
        make_url(server_url).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(statement))
    admin.dispose()


def url_of(server_url: str, name: str) -> str:
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def template(server_url: str, shape: str, master_data: dict[str, list[dict[str, Any]]]) -> str:
    """A migrated database holding the shape's master data; its name."""
    name = f"tillpost_bench_tpl_{shape}_{uuid.uuid4().hex[:6]}"
    admin_execute(server_url, f'CREATE DATABASE "{name}"')
    db_url = url_of(server_url, name)
    upgrade(db_url)
    db = database(db_url)
    for kind in KINDS:
        masterdata.import_rows(db, kind, io.StringIO(as_csv(master_data[kind])))
    db.dispose()
    return name


def copy_of(server_url: str, template_name: str, label: str) -> str:
    """A fresh database copied from the template; its URL."""
    name = f"tillpost_bench_{label}_{uuid.uuid4().hex[:6]}"
    admin_execute(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    return url_of(server_url, name)


def drop(server_url: str, name_or_url: str) -> None:
    name = make_url(name_or_url).database if "://" in name_or_url else name_or_url
    admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
