"""`python -m tests.ctrl_c_in_exec`: the command line's main() with a command that meets Ctrl-C
inside code run from a string, as an import making a dataclass can (tests/unit/test_ctrl_c.py)."""

import sys

import frontends.cli as cli


def _interrupted_inside_exec(args: list[str]) -> int:
    try:
        exec("raise KeyboardInterrupt", {})
    except KeyboardInterrupt:
        print("stopped waiting", file=sys.stderr)
        return 130
    return 0


cli._run = _interrupted_inside_exec
sys.exit(cli.main(["post", "day.jsonl", "--wait"]))
