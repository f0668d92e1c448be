"""Shared CLI plumbing: global options, building settings and the client, and the one error formatter."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

__all__ = ["CliState", "err_console", "friendly_errors", "make_client", "make_settings", "out_console", "state"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: Exit code of a command that failed with a reported error.
EXIT_FAILURE = 1


@dataclass
class CliState:
    """Global options of one ``polaris`` invocation."""

    hub_url: str | None = None
    env_file: str | None = None
    debug: bool = False


def state(ctx: Any) -> CliState:
    """The global options of the running command (defaults without a context)."""
    obj = ctx.find_object(CliState) if ctx is not None else None
    return obj if isinstance(obj, CliState) else CliState()


def out_console() -> Console:
    from rich.console import Console

    return Console()


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def make_settings(ctx: typer.Context) -> PolarisHubSettings:
    """Settings from the environment / env file, with ``--hub-url`` on top."""
    from polaris.hub.settings import PolarisHubSettings

    opts = state(ctx)
    overrides: dict[str, Any] = {}
    if opts.hub_url:
        overrides["hub_url"] = opts.hub_url
    if opts.env_file:
        return PolarisHubSettings(_env_file=opts.env_file, **overrides)
    return PolarisHubSettings(**overrides)


def make_client(ctx: typer.Context) -> PolarisHubClient:
    from polaris.hub.client import PolarisHubClient

    return PolarisHubClient(make_settings(ctx))


def configure_logging(debug: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING
    root = logging.getLogger("polaris")
    root.setLevel(level)
    if not any(getattr(h, "_polaris_cli", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._polaris_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if debug:
        # httpx logs every request at INFO; it never logs headers, so tokens stay out.
        logging.getLogger("httpx").setLevel(logging.INFO)


def _describe(exc: BaseException) -> tuple[str, str | None]:
    """One line and a hint for an exception (never a token: our errors do not carry any)."""
    from polaris.errors import PolarisError

    if isinstance(exc, PolarisError):
        return exc.message, exc.hint or None
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        return f"Invalid settings: {problems}", "Check the POLARIS_* environment variables, .env and --hub-url."
    if isinstance(exc, FileNotFoundError):
        return str(exc), None
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return f"Network error: {type(exc).__name__}", "Check your connection and --hub-url."
    return f"Unexpected error: {type(exc).__name__}: {exc}", "Run again with --debug for the full traceback."


def report_error(exc: BaseException, *, debug: bool = False) -> None:
    """Print the one friendly line (+ hint), and the traceback with ``--debug``."""
    console = err_console()
    if debug:
        _print_redacted_traceback(exc, console)
    message, hint = _describe(exc)
    console.print(f"[bold red]Error:[/] {escape(message)}")
    if hint:
        console.print(f"[yellow]Hint:[/] {escape(hint)}")


def _print_redacted_traceback(exc: BaseException, console: Console) -> None:
    """The ``--debug`` traceback, rendered as plain text and redacted (no URL credentials or tokens)."""
    import io

    from rich.console import Console
    from rich.traceback import Traceback

    from polaris.hub.redact import redact_text

    buffer = io.StringIO()
    plain = Console(file=buffer, width=console.width, no_color=True, color_system=None, force_terminal=False)
    plain.print(Traceback.from_exception(type(exc), exc, exc.__traceback__, show_locals=False))
    console.file.write(redact_text(buffer.getvalue()))
    console.file.flush()


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def friendly_errors(func: Callable[_P, _T]) -> Callable[_P, _T]:
    """Turn any failure of a command into one friendly line plus hint and exit code 1.

    The command must take a ``typer.Context`` (it carries ``--debug``).
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:
            # typer hands over its (vendored) click context, not a typer.Context instance: match by shape.
            ctx = next((a for a in (*args, *kwargs.values()) if hasattr(a, "find_object")), None)
            report_error(exc, debug=state(ctx).debug)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper
