"""``polaris login``, ``logout`` and ``whoami``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from polaris.cli._common import (
    check_cached_login,
    emit_json,
    err_console,
    escape,
    friendly_errors,
    make_client,
    on_interrupt,
    out_console,
)

if TYPE_CHECKING:
    from polaris.hub.auth import ConsoleLoginUI

__all__ = ["login", "logout", "whoami"]


def _terminal_ui(auto_open_browser: bool) -> ConsoleLoginUI:
    """The terminal login UI, where a closed input (EOF, Ctrl-D) at the code prompt is a clear login error."""
    from polaris.errors import PolarisUnauthorizedError
    from polaris.hub.auth import ConsoleLoginUI

    class _TerminalUI(ConsoleLoginUI):
        def ask_code(self) -> str:
            try:
                return super().ask_code()
            except EOFError:
                raise PolarisUnauthorizedError(
                    "Login aborted: the input closed before an authorization code was pasted",
                    hint=(
                        "Run `polaris login` in an interactive terminal and paste the code shown after logging in, "
                        "or set POLARIS_USERNAME and POLARIS_PASSWORD for the password grant."
                    ),
                ) from None

    return _TerminalUI(auto_open_browser=auto_open_browser)


@friendly_errors
def login(
    ctx: typer.Context,
    overwrite: bool = typer.Option(False, "--overwrite", help="Log in again even if a usable login is cached."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open the login page in a browser."),
) -> None:
    """Log in to the Polaris Hub (password grant when POLARIS_USERNAME/POLARIS_PASSWORD are set)."""
    on_interrupt(ctx, "Not logged in; your cached login, if any, is unchanged.")
    with make_client(ctx, check_login=False) as client:
        result = client.login(overwrite=overwrite, ui=_terminal_ui(browser))
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
    with make_client(ctx, check_login=False) as client:
        removed = client.logout()
        hub = client.settings.hub_url
    if removed:
        err_console().print(f"Logged out of {escape(hub)}.")
    else:
        err_console().print(f"Not logged in to {escape(hub)}; nothing to do.")


@friendly_errors
def whoami(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print {identity, hub_url, checked} as JSON."),
) -> None:
    """Show who you are logged in as, checked with the Hub (one request; an expired Hub token is renewed).

    With ``--offline`` no request is sent: the cached identity is shown, labelled as not checked.
    """
    from polaris.errors import PolarisUnauthorizedError

    with make_client(ctx, progress=False, check_login=False) as client:
        hub = client.settings.hub_url
        if client.offline:  # the cached identity (without one, the library's OfflineError says offline is on)
            identity, checked = client.whoami(), False
        else:
            check_cached_login(client)
            identity = client.whoami()
            try:
                client.list_artifacts("dataset", limit=1)  # an authenticated request: does the Hub accept it?
            except PolarisUnauthorizedError as exc:
                raise PolarisUnauthorizedError(
                    f"{hub} does not accept the cached login of {identity}: {exc.hub_message or exc.message}",
                    hint=f"Run `polaris --hub-url {hub} login --overwrite`.",
                ) from None
            checked = True
    if as_json:
        emit_json({"identity": identity, "hub_url": hub, "checked": checked})
        return
    label = "" if checked else " (cached login, not checked with the Hub: --offline)"
    out_console().print(f"{escape(identity)} on {escape(hub)}{escape(label)}", highlight=False)
