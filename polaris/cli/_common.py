"""Shared CLI plumbing: global options, settings and client, argument checks, JSON output, the one error formatter.

Exit codes: 0 ok, 1 a reported error, 2 a usage error (bad arguments; click's own convention), 130 interrupted.
"""

from __future__ import annotations

import enum
import functools
import json
import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from polaris.hub.client import PolarisHubClient
    from polaris.hub.settings import PolarisHubSettings

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "AccessChoice",
    "CliState",
    "IfExistsChoice",
    "VerifyChoice",
    "artifact_id_arg",
    "emit_json",
    "err_console",
    "friendly_errors",
    "make_client",
    "make_settings",
    "on_interrupt",
    "out_console",
    "state",
]

_P = ParamSpec("_P")
_T = TypeVar("_T")

#: Exit code of a command that failed with a reported error.
EXIT_FAILURE = 1
#: Exit code of a usage error (bad arguments or options); click uses it too.
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

#: What an interrupted command says was kept, unless the command says better.
DEFAULT_INTERRUPT_NOTE = "Nothing was changed."

ARTIFACT_FORMS = "OWNER/NAME, e.g. polaris-demo/freesolv (OWNER is a user or an organization)"


class VerifyChoice(enum.StrEnum):
    """``--verify-checksum``: whether the content checksum is recomputed after download."""

    VERIFY = "verify"
    VERIFY_UNLESS_ZARR = "verify_unless_zarr"
    IGNORE = "ignore"


class AccessChoice(enum.StrEnum):
    """``--access``: who can see an uploaded artifact."""

    PRIVATE = "private"
    PUBLIC = "public"


class IfExistsChoice(enum.StrEnum):
    """``--if-exists``: what happens to storage objects that are already there."""

    REPLACE = "replace"
    SKIP = "skip"
    RAISE = "raise"


@dataclass
class CliState:
    """Global options of one ``polaris`` invocation (and what an interrupt would leave behind)."""

    hub_url: str | None = None
    env_file: str | None = None
    debug: bool = False
    offline: bool = False
    interrupt_note: str = DEFAULT_INTERRUPT_NOTE


def state(ctx: Any) -> CliState:
    """The global options of the running command (defaults without a context)."""
    obj = ctx.find_object(CliState) if ctx is not None else None
    return obj if isinstance(obj, CliState) else CliState()


DOWNLOAD_INTERRUPTED = (
    "Nothing unverified entered the cache: the bytes received so far are kept aside (.incomplete) and the next "
    "get of the same artifact continues them with ranged reads, then verifies the whole."
)


def on_interrupt(ctx: Any, note: str) -> None:
    """Say what is kept if the user presses Ctrl-C from now on (printed after ``Interrupted``)."""
    state(ctx).interrupt_note = note


#: Width of tables written to a pipe or file (rich would use 80), unless COLUMNS says otherwise.
PIPE_WIDTH = 120


def out_console() -> Console:
    import os

    from rich.console import Console

    if not sys.stdout.isatty() and not os.environ.get("COLUMNS"):
        return Console(width=PIPE_WIDTH)
    return Console()


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def emit_json(data: Any) -> None:
    """One JSON document on stdout (NaN written as null, paths and dates as strings)."""
    from polaris.artifacts._base import clean_json

    typer.echo(json.dumps(clean_json(data), default=str))


def artifact_id_arg(value: str) -> str:
    """typer callback: ``OWNER/NAME`` or a usage error (exit 2) saying which forms are accepted."""
    from polaris.types import split_artifact_id

    if value is None:
        return value
    try:
        owner, name = split_artifact_id(value)
    except ValueError:
        raise typer.BadParameter(f"expected {ARTIFACT_FORMS}; got {value!r}") from None
    return f"{owner}/{name}"


def make_settings(ctx: typer.Context) -> PolarisHubSettings:
    """Settings from the environment / env file, with ``--hub-url`` and ``--offline`` on top."""
    from polaris.hub.settings import PolarisHubSettings

    opts = state(ctx)
    overrides: dict[str, Any] = {}
    if opts.hub_url:
        overrides["hub_url"] = opts.hub_url
    if opts.offline:
        overrides["offline"] = True
    if opts.env_file:
        return PolarisHubSettings(_env_file=opts.env_file, **overrides)
    return PolarisHubSettings(**overrides)


def make_client(ctx: typer.Context, *, progress: bool = True, check_login: bool = True) -> PolarisHubClient:
    """A client of the configured Hub; ``progress=False`` keeps transfers quiet (progress is on stderr, so
    ``--json`` keeps it: stdout holds the JSON alone).

    ``check_login``: a cached login that cannot be used (unreadable file, expired without a way to renew it) is
    an error, never a silent switch to anonymous requests (``login``/``logout`` pass ``False``: they repair it).

    Raises:
        PolarisUnauthorizedError: the cached login of this Hub is unusable (the message names the Hub).
    """
    from polaris.hub.client import PolarisHubClient

    client = PolarisHubClient(make_settings(ctx))
    client.show_progress = client.show_progress and progress
    if check_login and not client.offline:
        try:
            check_cached_login(client)
        except BaseException:
            client.close()
            raise
    return client


def check_cached_login(client: PolarisHubClient) -> None:
    """Refuse a cached login of this Hub that would silently turn into anonymous requests.

    The rule is the client's own (:meth:`PolarisHubClient.ensure_active_token`): an unreadable token file, or a login
    that expired and cannot be renewed, raises before any request is sent.

    Raises:
        CachedLoginError: the cached login is unreadable, or expired and cannot be renewed.
    """
    client.ensure_active_token()


def current_owner(client: PolarisHubClient) -> str:
    """The user name of the login (what ``--owner`` defaults to, and what ``--owner me`` means).

    Raises:
        PolarisUnauthorizedError: not logged in, or the login does not say its user name (the message names the
            Hub and the option to give instead).
    """
    from polaris.errors import PolarisUnauthorizedError

    hub = client.settings.hub_url
    if not client.is_logged_in:
        raise PolarisUnauthorizedError(
            f"--owner defaults to the logged-in user, and you are not logged in to {hub}",
            hint="Run `polaris login`, or give --owner OWNER (a user or an organization).",
        )
    username = client.login_username
    if username is None:
        raise PolarisUnauthorizedError(
            f"--owner defaults to the logged-in user, and the login to {hub} ({client.whoami()}) does not say its "
            "user name",
            hint="Give --owner OWNER (your user name or an organization).",
        )
    return username


def resolve_owner(client: PolarisHubClient, owner: str | None) -> str:
    """``--owner``: as given; ``me`` or nothing means the logged-in user."""
    if owner is None or owner.strip().lower() == "me":
        return current_owner(client)
    return owner


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it between commands)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def configure_logging(debug: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING
    root = logging.getLogger("polaris")
    root.setLevel(level)
    # Plain progress lines (no terminal, no notebook: CI logs) are INFO records of this logger.
    logging.getLogger("polaris.progress").setLevel(logging.DEBUG if debug else logging.INFO)
    # Which cached copy served a get_* (offline mode: an INFO line of the one offline fallback) is always shown.
    logging.getLogger("polaris.hub.flows.context").setLevel(logging.DEBUG if debug else logging.INFO)
    if not any(getattr(h, "_polaris_cli", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._polaris_cli = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if debug:
        # httpx logs every request at INFO; it never logs headers, so tokens stay out.
        logging.getLogger("httpx").setLevel(logging.INFO)


#: ``polaris <domain> ...`` -> the listing command to suggest when an artifact is not found.
_LIST_COMMANDS = {
    "datasets": "polaris datasets list",
    "benchmarks": "polaris benchmarks list",
    "competitions": "polaris competitions list",
    "results": "polaris benchmarks list",
    "models": "polaris models list",
}


def _domain(ctx: Any) -> str | None:
    path = str(getattr(ctx, "command_path", "") or "").split()
    return path[1] if len(path) > 1 else None


def _describe(exc: BaseException, ctx: Any = None) -> tuple[str, str | None]:
    """One line and a hint for an exception (never a token: our errors do not carry any)."""
    from polaris.errors import ArtifactNotFoundError, PolarisError

    if isinstance(exc, ArtifactNotFoundError):
        hint = exc.hint or None
        domain = _domain(ctx)
        if hint == ArtifactNotFoundError.default_hint and domain in _LIST_COMMANDS:
            hint = (
                f"Check the owner and name (`{_LIST_COMMANDS[domain]}`). Private artifacts of others look like "
                "missing ones; log in as a user who can see it."
            )
        return exc.message, hint
    if isinstance(exc, PolarisError):
        return exc.message, exc.hint or None
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" if err["loc"] else str(err["msg"])
            for err in exc.errors()
        )
        title = exc.title if exc.title != "PolarisHubSettings" else "settings"
        if title == "settings":
            return f"Invalid settings: {problems}", "Check the POLARIS_* environment variables, .env and --hub-url."
        return f"Invalid {title}: {problems}", "Fix the fields named above (in the file or the options) and retry."
    if isinstance(exc, (FileNotFoundError, FileExistsError)):
        return str(exc), None
    if isinstance(exc, PermissionError):
        return f"Permission denied: {exc.filename or exc}", "Choose a folder you can write to."
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}", "Check the path, the free space and the permissions."
    import httpx

    if isinstance(exc, httpx.HTTPError):
        return f"Network error: {type(exc).__name__}", "Check your connection and --hub-url."
    return f"Unexpected error: {type(exc).__name__}: {exc}", "Run again with --debug for the full traceback."


def report_error(exc: BaseException, *, debug: bool = False, ctx: Any = None) -> None:
    """Print the one friendly line (+ hint), and the traceback with ``--debug``."""
    console = err_console()
    if debug:
        _print_redacted_traceback(exc, console)
    message, hint = _describe(exc, ctx)
    if hint:
        # Library hints name keyword arguments; on the command line they are options.
        hint = re.sub(r'if_exists="(\w+)"', r"--if-exists \1", hint)
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


def report_interrupt(ctx: Any) -> None:
    console = err_console()
    console.print(f"[bold]Interrupted.[/] {escape(state(ctx).interrupt_note)}")


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def friendly_errors(func: Callable[_P, _T]) -> Callable[_P, _T]:
    """Turn any failure of a command into one friendly line plus hint and exit code 1; Ctrl-C into exit 130.

    The command must take a ``typer.Context`` (it carries ``--debug``).
    """

    @functools.wraps(func)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        # typer hands over its (vendored) click context, not a typer.Context instance: match by shape.
        ctx = next((a for a in (*args, *kwargs.values()) if hasattr(a, "find_object")), None)
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            report_interrupt(ctx)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            from typer.exceptions import TyperException

            if isinstance(exc, TyperException):  # usage errors raised by a command itself: click exits 2
                raise
            report_error(exc, debug=state(ctx).debug, ctx=ctx)
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper


def read_document(path: str) -> dict[str, Any]:
    """A mapping of fields from a file: ``.json`` parsed as JSON only, other suffixes as YAML.

    Raises:
        InputFileError: unreadable, not UTF-8, not valid JSON/YAML (with line and column), or not a mapping.
    """
    from polaris.tables import InputFileError
    from polaris.tables import read_document as read_any

    data = read_any(path)
    if not isinstance(data, dict):
        raise InputFileError(
            path,
            f"holds {type(data).__name__ if data is not None else 'nothing'}, not a mapping of fields",
            hint="Write one field per line (name: ..., owner: ...) or a JSON object.",
        )
    bad_keys = [k for k in data if not isinstance(k, str)]
    if bad_keys:
        raise InputFileError(path, f"field names must be text; got {bad_keys!r}")
    return data


def warn_unknown_keys(path: str | None, fields: dict[str, Any], known: set[str], what: str) -> list[str]:
    """Drop the keys of ``fields`` that ``what`` does not have, with one warning on stderr naming each."""
    unknown = [k for k in fields if k not in known]
    for key in unknown:
        fields.pop(key)
    if unknown:
        where = f" in {path}" if path else ""
        err_console().print(
            f"[yellow]Warning:[/] ignoring unknown {escape(what)} field(s){escape(where)}: "
            f"{escape(', '.join(unknown))} (known: {escape(', '.join(sorted(k for k in known if k == k.lower())))})",
            highlight=False,
        )
    return unknown


def fields_error(path: str | None, fields: dict[str, Any], exc: Exception) -> Exception:
    """A pydantic error about fields read from a file, as an error naming the file and each key (else ``exc``)."""
    from pydantic import ValidationError

    from polaris.tables import InputFileError

    if path is None or not isinstance(exc, ValidationError):
        return exc
    problems = [(str(e["loc"][0]) if e["loc"] else "", str(e["msg"])) for e in exc.errors()]
    if not problems or any(key not in fields for key, _ in problems):
        return exc
    return InputFileError(
        path, "; ".join(f"{key}: {msg}" for key, msg in problems), hint="Fix the key(s) named above; nothing was sent."
    )


def model_keys(*models: Any) -> set[str]:
    """Field names (and aliases) of pydantic models, without the computed ones."""
    keys: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            keys.add(name)
            if info.alias:
                keys.add(info.alias)
    return keys


def show_fields(title: str, summary: dict[str, Any]) -> None:
    """A two-column table of a summary."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in summary.items():
        if isinstance(value, dict):
            value = [f"{k} {v}" for k, v in value.items()]
        table.add_row(key, ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    out_console().print(table)
