"""Write docs/cli.md from the commands' own help, or check that it is current.

    python docs/generate_cli_md.py           # rewrite docs/cli.md
    python docs/generate_cli_md.py --check   # exit 1 if docs/cli.md differs

The reference is generated so that it cannot drift from the code; the prose around it lives here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from cli.main import cli

TARGET = Path(__file__).resolve().parent / "cli.md"

INTRO = """# `ledger` command reference

Generated from the commands' help by `python docs/generate_cli_md.py`; do not edit by hand.

Exit codes, for every command: **0** success (for `verify`: the ledger verifies); **1** the input
does not verify, or `append` rejected an endorsement; **2** usage or input error (bad arguments,
a missing, unreadable or malformed file). Errors are one line on standard error,
`ledger: error: <what>: <why>`, sometimes followed by `ledger: hint: ...`; never a traceback.
"""


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            found += _walk(command.commands[name], [*path, name])
    return found


def render() -> str:
    """The whole reference as Markdown."""
    parts = [INTRO]
    for path, command in _walk(cli, ["ledger"])[1:]:
        if isinstance(command, click.Group):
            continue
        with click.Context(command, info_name=" ".join(path), terminal_width=100) as ctx:
            help_text = command.get_help(ctx)
        parts.append(f"## `{' '.join(path)}`\n\n```text\n{help_text}\n```\n")
    return "\n".join(parts)


def main() -> int:
    """Rewrite, or with --check compare."""
    text = render()
    if "--check" in sys.argv[1:]:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print("docs/cli.md is out of date: run python docs/generate_cli_md.py")
            return 1
        print("docs/cli.md is current")
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
