"""Command line of the local Hub: ``polaris emulator start`` / ``python -m polaris.emulator start``.

Only typer is imported at module level so that mounting ``app`` in the ``polaris`` CLI stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="emulator",
    help="Run a local Polaris Hub (API, identity provider, S3 storage) for development and tests.",
    no_args_is_help=True,
    add_completion=False,
)


def _user(value: str) -> tuple[str, str]:
    name, sep, password = value.partition(":")
    if not sep or not name or not password:
        raise typer.BadParameter(f"expected NAME:PASSWORD, got {value!r}")
    return name, password


def _org(value: str) -> tuple[str, list[str]]:
    name, sep, members = value.partition(":")
    if not sep or not name:
        raise typer.BadParameter(f"expected ORG:MEMBER,MEMBER, got {value!r}")
    return name, [m for m in members.split(",") if m]


def _slug(value: str, what: str) -> str:
    from polaris.types import is_slug

    if not is_slug(value):
        raise typer.BadParameter(f"{what} {value!r} must be 4-64 characters of a-z, 0-9 and '-'")
    return value


@app.callback()
def _root() -> None:
    """Local Polaris Hub."""


@app.command()
def start(
    host: Annotated[str, typer.Option(help="Address to listen on (keep it on loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the database and stored objects here across restarts.")
    ] = None,
    seed: Annotated[str | None, typer.Option(help="Load demo content: 'demo'.")] = None,
    user: Annotated[list[str] | None, typer.Option(help="Add a user NAME:PASSWORD (repeatable).")] = None,
    org: Annotated[list[str] | None, typer.Option(help="Add an organization ORG:MEMBER,MEMBER (repeatable).")] = None,
    token_ttl: Annotated[int, typer.Option(min=1, help="Lifetime of issued tokens in seconds.")] = 3600,
    enable_faults: Annotated[bool, typer.Option(help="Allow tests to inject faults via /__emulator__/faults.")] = False,
    validate: Annotated[bool, typer.Option(help="Validate /api requests against openapi/hub.yaml.")] = True,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    storage_auth: Annotated[
        bool, typer.Option(help="Check storage tokens on every S3 request (--no-storage-auth: hand out moto directly).")
    ] = True,
    expose_direct_s3: Annotated[
        bool,
        typer.Option(
            "--expose-direct-s3",
            help="Let moto itself (no token checks, every object) answer on its own port, for tests that tamper "
            "with stored objects. Off by default.",
        ),
    ] = False,
    protocol: Annotated[
        str,
        typer.Option(
            help="Endpoint generations to serve: 'all', '0.10' (what polaris-lib 0.10 calls) or '0.13' "
            "(what 0.11-0.13 call); the others answer 404."
        ),
    ] = "all",
    storage_latency_ms: Annotated[
        int,
        typer.Option(
            min=0,
            help="Delay every storage (S3) request by this many milliseconds, like a remote object store's round "
            "trip (0: none).",
        ),
    ] = 0,
) -> None:
    """Start the local Hub and print its URL, the POLARIS_* settings and the seeded credentials."""
    import logging

    from polaris.emulator.server import EmulatorError, EmulatorOptions, run

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    users = [_user(u) for u in user or []]
    for name, _ in users:
        _slug(name, "user name")
    orgs = [_org(o) for o in org or []]
    for name, _ in orgs:
        _slug(name, "organization name")
    if protocol not in ("all", "0.10", "0.13"):
        raise typer.BadParameter(f"unknown protocol {protocol!r}; known: all, 0.10, 0.13", param_hint="--protocol")
    if seed not in (None, "demo"):
        raise typer.BadParameter(f"unknown seed {seed!r}; known: demo", param_hint="--seed")
    options = EmulatorOptions(
        host=host,
        port=port,
        data_dir=data_dir,
        seed=seed,
        users=users,
        orgs=orgs,
        token_ttl=token_ttl,
        enable_faults=enable_faults,
        validate_requests=validate,
        log_level=log_level,
        storage_auth=storage_auth,
        expose_direct_s3=expose_direct_s3,
        protocol=protocol,
        storage_latency_ms=storage_latency_ms,
    )
    try:
        code = run(options)
    except EmulatorError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(code)


def main() -> None:
    app()
