"""The ``ledger`` command group and its one error boundary.

Exit codes (DESIGN §3): 0 success or verified; 1 does not verify, or an input was rejected;
2 usage or input error (bad arguments, unreadable or malformed files). Errors are one line,
``ledger: error: ...``, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import click

from cli.cmd_binding import binding
from cli.cmd_bundle import fetch, publish
from cli.cmd_diff import diff_command
from cli.cmd_endorse import endorse, inspect
from cli.cmd_keys import key, keygen
from cli.cmd_ledger import append, init, list_signatories, verify
from cli.cmd_lifecycle import (
    close_command,
    history_command,
    remove_command,
    revoke_command,
    rotate_command,
    withdraw_command,
)
from cli.cmd_log import checkpoint, prove, verify_proof
from cli.cmd_statement import statement
from cli.cmd_witness import witness
from ledger import LedgerError, VerificationError, __version__, inert

EXIT_OK: Final = 0
EXIT_NOT_VERIFIED: Final = 1
EXIT_USAGE: Final = 2


class LedgerGroup(click.Group):
    """A click group that turns every error, click's own included, into one line and a code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command; usage errors become ``ledger: error:`` lines with exit code 2."""
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.exceptions.Exit as exc:  # --help, --version
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            command = (
                exc.ctx.command_path if isinstance(exc, click.UsageError) and exc.ctx else None
            )
            click.echo(f"ledger: error: {inert(exc.format_message(), 2000)}", err=True)
            if command:
                click.echo(f"ledger: hint: see '{command} --help'", err=True)
            sys.exit(EXIT_USAGE)
        except click.Abort:
            _fail("interrupted", 130)
        # Outside standalone mode click returns a ctx.exit(code) instead of exiting with it.
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VerificationError as exc:
            _fail(str(exc), EXIT_NOT_VERIFIED)
        except LedgerError as exc:
            _fail(str(exc), EXIT_USAGE)
        except OSError as exc:
            _fail(f"{exc.filename or 'i/o'}: {exc.strerror or exc}", EXIT_USAGE)
        except KeyboardInterrupt:
            _fail("interrupted", 130)


def _fail(message: str, code: int) -> None:
    click.echo(f"ledger: error: {inert(message, 2000)}", err=True)
    sys.exit(code)


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ledger")
def cli() -> None:
    """Verifiable signatory lists for open letters.

    Organisations sign their endorsement of a statement; the campaign keeps the endorsements in
    an append-only, hash-chained ledger; anyone can verify it offline.
    """


for command in (
    statement,
    keygen,
    key,
    endorse,
    inspect,
    init,
    append,
    list_signatories,
    verify,
    publish,
    fetch,
    checkpoint,
    prove,
    verify_proof,
    witness,
    withdraw_command,
    rotate_command,
    revoke_command,
    remove_command,
    close_command,
    history_command,
    binding,
    diff_command,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="ledger")
