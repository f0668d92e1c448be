"""The ``polaris`` command line: one typer sub-app per domain, one error formatter.

Only typer is imported at module level; the client, pydantic and rich come in when a command runs,
so ``polaris --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import typer

from polaris.cli import auth, emulator, fetch, listing
from polaris.cli._common import CliState, configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="polaris",
    help="Work with the Polaris Hub: log in, list datasets, benchmarks and competitions, run a local Hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    hub_url: str | None = typer.Option(None, "--hub-url", help="Hub to talk to (overrides POLARIS_HUB_URL)."),
    env_file: str | None = typer.Option(None, "--env-file", help="Read settings from this env file instead of .env."),
    debug: bool = typer.Option(False, "--debug", help="Verbose logs and full tracebacks."),
) -> None:
    ctx.obj = CliState(hub_url=hub_url, env_file=env_file, debug=debug)
    configure_logging(debug)


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
# Importing `fetch` registered `datasets get` and `benchmarks get` on the sub-apps below.
__all__ += ["fetch"]
app.add_typer(listing.datasets_app, name="datasets")
app.add_typer(listing.benchmarks_app, name="benchmarks")
app.add_typer(listing.competitions_app, name="competitions")
app.command("emulator", context_settings=emulator.EMULATOR_CONTEXT, add_help_option=False)(emulator.emulator)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point (``polaris``)."""
    return app(args=argv, prog_name="polaris")
