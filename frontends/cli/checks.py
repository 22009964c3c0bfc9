"""`tillpost check`: the ledger's invariants; exit status 1 on any violation."""

from __future__ import annotations

import sys

import click

from frontends.cli.common import database, json_option
from frontends.output import console, emit_json, new_table
from frontends.recovery import sweeper_line
from services import lookups


@click.command()
@json_option
def check(as_json: bool) -> int:
    """Ledger invariants; exit 1 on any violation.

    Stock, loyalty, returns, sales and intake are checked from the stored rows alone."""
    health = lookups.check(database())
    if as_json:
        emit_json({"ok": health.ok, "violations": health.violations})
    elif health.violations:
        table = new_table("check", "detail")
        for violation in health.violations:
            table.add_row(violation["check"], violation["detail"])
        console().print(f"{len(health.violations)} violation(s):")
        console().print(table)
    else:
        print("ledger ok: every invariant holds")
    # Not an invariant of the ledger (the exit status ignores it), but a recovery that stopped is a warning.
    if health.sweeper["overdue"] or not as_json:
        print(sweeper_line(health.sweeper), file=sys.stderr if as_json else sys.stdout)
    return 0 if health.ok else 1


COMMANDS = (check,)
