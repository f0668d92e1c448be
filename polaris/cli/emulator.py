"""``polaris emulator ...``: hands over to the local Hub's own CLI, imported only when used."""

from __future__ import annotations

import importlib

import typer

from polaris.cli._common import err_console, escape

__all__ = ["EMULATOR_CONTEXT", "emulator"]

EMULATOR_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
INSTALL_HINT = "Install it with: pip install 'polaris-hub-client[emulator]'"


def emulator(ctx: typer.Context) -> None:
    """Run the local Polaris Hub (needs the 'emulator' extra). `polaris emulator --help` for its commands."""
    try:
        emulator_app = importlib.import_module("polaris.emulator.cli").app
    except ImportError as exc:
        console = err_console()
        missing = f" (missing: {exc.name})" if exc.name else ""
        console.print(f"[bold red]Error:[/] the local Hub (emulator extra) is not installed{missing}.")
        console.print(f"[yellow]Hint:[/] {escape(INSTALL_HINT)}")
        raise typer.Exit(1) from None
    command = typer.main.get_command(emulator_app)
    command.main(args=list(ctx.args), prog_name="polaris emulator", standalone_mode=True)
