"""The ``polaris`` command line: one typer sub-app per domain, one error formatter (:mod:`polaris.cli._common`).

Only typer is imported at module level; the client, pydantic, pandas and rich come in when a command runs,
so ``polaris --help`` stays fast. Exit codes: 0 ok, 1 error, 2 usage error, 130 interrupted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from polaris.cli import auth, benchmarks, cache, competitions, datasets, emulator, models, results
from polaris.cli._common import CliState, configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="polaris",
    help="Work with the Polaris Hub: log in; list, get and upload datasets, benchmarks, results, competitions and "
    "models; manage the local cache; run a local Hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from polaris._coexistence import report
        from polaris.artifacts._base import package_version

        typer.echo(f"polaris-hub-client {package_version()}")
        for line in report():  # polaris-lib installed too: which one is active, how to fix it
            typer.echo(line, err=True)
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    hub_url: str | None = typer.Option(None, "--hub-url", help="Hub to talk to (overrides POLARIS_HUB_URL)."),
    env_file: Path | None = typer.Option(
        None,
        "--env-file",
        exists=True,
        dir_okay=False,
        readable=True,
        help="Read settings from this env file instead of .env (it must exist).",
    ),
    offline: bool = typer.Option(
        False, "--offline", help="Send no request at all; serve verified cached artifacts (POLARIS_OFFLINE=1)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Verbose logs and full tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = CliState(hub_url=hub_url, env_file=str(env_file) if env_file else None, debug=debug, offline=offline)
    configure_logging(debug)


app.command("login")(auth.login)
app.command("logout")(auth.logout)
app.command("whoami")(auth.whoami)
app.add_typer(datasets.app, name="datasets")
app.add_typer(benchmarks.app, name="benchmarks")
app.add_typer(results.app, name="results")
app.add_typer(competitions.app, name="competitions")
app.add_typer(models.app, name="models")
app.add_typer(cache.app, name="cache")
app.command("emulator", context_settings=emulator.EMULATOR_CONTEXT, add_help_option=False)(emulator.emulator)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point (``polaris``)."""
    return app(args=argv, prog_name="polaris")
