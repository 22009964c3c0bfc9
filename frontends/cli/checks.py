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
@click.option(
    "--timings", is_flag=True, help="also say how long each check took (with --json: timings [{check, seconds}])"
)
def check(as_json: bool, timings: bool) -> int:
    """Ledger invariants; exit 1 on any violation.

    Stock, loyalty, returns, sales and intake are checked from the stored rows alone."""
    health = lookups.check(database())
    took = [{"check": name, "seconds": seconds} for name, seconds in health.seconds.items()] if timings else []
    if as_json:
        emit_json({"ok": health.ok, "violations": health.violations} | ({"timings": took} if timings else {}))
    elif health.violations:
        table = new_table("check", "detail")
        for violation in health.violations:
            table.add_row(violation["check"], violation["detail"])
        console().print(f"{len(health.violations)} violation(s):")
        console().print(table)
    else:
        print("ledger ok: every invariant holds")
    if took and not as_json:
        table = new_table("check", "seconds")
        for timing in took:
            table.add_row(str(timing["check"]), f"{timing['seconds']:.3f}")
        console().print(table)
    # Not an invariant of the ledger (the exit status ignores it), but a recovery that stopped is a warning.
    if health.sweeper["overdue"] or not as_json:
        print(sweeper_line(health.sweeper), file=sys.stderr if as_json else sys.stdout)
    return 0 if health.ok else 1


COMMANDS = (check,)
