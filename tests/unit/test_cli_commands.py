"""The command line's table of commands (frontends/cli COMMANDS): `tillpost --help` lists every
command of ../shared/CLI.md from it, without importing the commands, so it must match them."""

from __future__ import annotations

import importlib
import re

import pytest

from frontends import cli
from tests.conftest import shared_path

MODULES = ("batches", "checks", "masterdata", "processes", "reports", "sales", "web")


def real_commands() -> dict[str, tuple[str, object]]:
    found = {}
    for name in MODULES:
        for command in importlib.import_module(f"frontends.cli.{name}").COMMANDS:
            found[command.name] = (name, command)
    return found


def test_the_table_names_each_command_with_its_module_and_its_own_help():
    real = real_commands()
    assert set(cli.COMMANDS) == set(real)
    for name, (module, command) in real.items():
        assert cli.COMMANDS[name][0] == module, name
        for limit in (45, 1000):
            assert cli.short_help(name, limit) == command.get_short_help_str(limit), name


def test_help_lists_every_command_of_cli_md(capsys):
    documented = set(re.findall(r"^\| `tillpost ([a-z]+)", shared_path("CLI.md").read_text(), re.MULTILINE))
    assert {"batch", "post", "report", "sale", "services"} <= documented

    assert cli.main(["--help"]) == 0

    listed = set(re.findall(r"^  ([a-z]+) ", capsys.readouterr().out, re.MULTILINE))
    assert documented <= listed


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "soon", "86401", "inf", "1e309", "1e-300", "0.01"])
def test_a_bad_watch_interval_exits_2_naming_it(seconds, capsys):
    assert cli.main(["batch", "show", "1", f"--watch={seconds}"]) == 2
    said = capsys.readouterr().err
    assert "--watch" in said or f"'{seconds}'" in said  # click reads "-1" as an unknown option
