"""``polaris login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import typer

from polaris.cli._common import err_console, escape, friendly_errors, make_client, out_console

__all__ = ["login", "logout", "whoami"]


@friendly_errors
def login(
    ctx: typer.Context,
    overwrite: bool = typer.Option(False, "--overwrite", help="Log in again even if a usable login is cached."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the login page in a browser."),
) -> None:
    """Log in to the Polaris Hub (password grant when POLARIS_USERNAME/POLARIS_PASSWORD are set)."""
    with make_client(ctx) as client:
        result = client.login(overwrite=overwrite, auto_open_browser=browser)
        hub = client.settings.hub_url
    if result.already_logged_in:
        err_console().print(
            f"Already logged in to {escape(hub)} as [bold]{escape(result.identity)}[/]. "
            "Use --overwrite to log in again."
        )
    else:
        err_console().print(f"Logged in to {escape(hub)} as [bold]{escape(result.identity)}[/].")


@friendly_errors
def logout(ctx: typer.Context) -> None:
    """Forget the cached login of this Hub."""
    with make_client(ctx) as client:
        removed = client.logout()
        hub = client.settings.hub_url
    if removed:
        err_console().print(f"Logged out of {escape(hub)}.")
    else:
        err_console().print(f"Not logged in to {escape(hub)}; nothing to do.")


@friendly_errors
def whoami(ctx: typer.Context) -> None:
    """Show who you are logged in as (renews an expired Hub token silently)."""
    with make_client(ctx) as client:
        identity = client.whoami()
        hub = client.settings.hub_url
    out_console().print(f"{escape(identity)} on {escape(hub)}", highlight=False)
