"""`tillpost db upgrade`, `tillpost import KIND FILE`, `tillpost export KIND`: the schema and the
master data (companies, outlets, users, products, customers, stock) as CSV."""

from __future__ import annotations

import io
import sys

import click

from domain.masterdata.importing import KINDS
from frontends.cli.common import BadInput, command_settings, database, read_file
from runtime import embedded
from services import lookups
from services.masterdata import import_rows


@click.group()
def db() -> None:
    """Database migrations."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> int:
    """Apply migrations (up to REVISION, default the newest)."""
    from migrations.schema import upgrade as migrate

    config = command_settings()
    embedded.ensure_running(config)
    migrate(config.database_url, revision)
    print(f"database at {revision}")
    return 0


@click.command("import")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file")
def import_master_data(kind: str, file: str) -> int:
    """Upsert master data from a CSV file.

    KIND is one of the choices below; bad rows are listed with their line numbers and none is imported."""
    try:
        content = read_file(file).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{file}: not a UTF-8 CSV file ({exc})") from None
    report = import_rows(database(), kind, io.StringIO(content))
    print(f"{report.kind}: {report.rows} row(s), {report.inserted} inserted, {report.updated} updated")
    return 0


@click.command("export")
@click.argument("kind", type=click.Choice(KINDS))
def export_master_data(kind: str) -> int:
    """Write master data as CSV to stdout.

    The columns are those `import` reads, so the file imports back to the same state."""
    lookups.export_master_data(database(), kind, sys.stdout)
    return 0


COMMANDS = (db, import_master_data, export_master_data)
