"""Start and stop the local Hub: data dir, SQLite, moto S3 (+ token-checking gateway), uvicorn, ready line, signals."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from polaris.emulator.objects import BUCKET, ObjectStore
from polaris.emulator.s3gate import StorageGateway

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 30.0
READY_POLL_SECONDS = 0.02
GRACEFUL_SHUTDOWN_SECONDS = 2
DEFAULT_TOKEN_TTL = 3600
# In a source checkout the spec is openapi/hub.yaml; an installed wheel carries a copy next to this module.
_SPEC_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "openapi" / "hub.yaml",
    Path(__file__).resolve().parent / "hub.yaml",
)
SPEC_PATH = next((p for p in _SPEC_CANDIDATES if p.exists()), _SPEC_CANDIDATES[0])


@dataclass
class EmulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    data_dir: Path | None = None
    seed: str | None = None
    users: list[tuple[str, str]] = field(default_factory=list)
    orgs: list[tuple[str, list[str]]] = field(default_factory=list)
    token_ttl: int = DEFAULT_TOKEN_TTL
    enable_faults: bool = False
    validate_requests: bool = True
    log_level: str = "warning"
    storage_auth: bool = True
    protocol: str = "all"  # "0.10", "0.13" or "all": which endpoint generations are served


class EmulatorError(Exception):
    """The emulator cannot start (bad option, port in use, ...)."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise EmulatorError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run(options: EmulatorOptions) -> int:
    """Run the emulator until SIGINT/SIGTERM; returns the process exit code.

    Raises:
        EmulatorError: the data dir or the port cannot be used.
    """
    import uvicorn

    from polaris.emulator.app import HubState, create_app, load_openapi
    from polaris.emulator.core import PROTOCOLS
    from polaris.emulator.db import Database
    from polaris.emulator.oauth import DEFAULT_CLIENT_ID, IdentityProvider
    from polaris.emulator.tokens import TokenSigner

    if options.protocol not in PROTOCOLS:
        raise EmulatorError(f"unknown protocol {options.protocol!r} (known: {', '.join(PROTOCOLS)})")
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator serves plain http on loopback
    temp_dir: str | None = None
    if options.data_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="polaris-hub-emulator-")
        data_dir = Path(temp_dir)
    else:
        data_dir = options.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmulatorError(f"cannot use data dir {data_dir}: {exc.strerror}") from None

    sock = _bind(options.host, options.port)
    port = sock.getsockname()[1]
    hub_url = f"http://{_url_host(options.host)}:{port}/"
    db = Database(data_dir / "hub.sqlite3")
    store_host = options.host if options.host in ("127.0.0.1", "localhost") else "127.0.0.1"
    store = ObjectStore(store_host)
    gateway: StorageGateway | None = None
    try:
        store.start()
        restored = store.restore(data_dir) if options.data_dir is not None else 0
        log.info("restored %d objects", restored)
        for name, password in options.users:
            db.upsert_user(name, password)
        credentials = list(options.users)
        if options.seed == "demo":
            from polaris.emulator.seed import seed_demo

            credentials = seed_demo(db, store) + credentials
        elif options.seed:
            raise EmulatorError(f"unknown seed {options.seed!r} (known: demo)")
        for org, members in options.orgs:
            missing = [m for m in members if db.get_user(m) is None]
            if missing:
                raise EmulatorError(f"organization {org}: unknown members {missing} (add them with --user)")
            db.upsert_org(org, members)

        signer = TokenSigner(db.secret("jwt"), options.token_ttl)
        if options.storage_auth:
            gateway = StorageGateway(signer, store.endpoint, BUCKET, host=store_host)
            gateway.start()
            store.public_endpoint = gateway.endpoint
        idp = IdentityProvider(db, callback_url=hub_url + "oauth2/callback", token_ttl=options.token_ttl)
        openapi = None
        if options.validate_requests and SPEC_PATH.exists():
            openapi = load_openapi(SPEC_PATH, hub_url + "api")
        state = HubState(
            db=db,
            store=store,
            signer=signer,
            idp=idp,
            hub_url=hub_url,
            token_ttl=options.token_ttl,
            enable_faults=options.enable_faults,
            openapi=openapi,
            protocol=options.protocol,
        )
        app = create_app(state)
        config = uvicorn.Config(
            app,
            log_level=options.log_level,
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            lifespan="off",
        )
        server = uvicorn.Server(config)

        def ready_lines() -> list[str]:
            lines = [
                f"Polaris Hub emulator ready at {hub_url}",
                f"POLARIS_HUB_URL={hub_url}",
                f"POLARIS_AUTHORIZE_URL={hub_url}oauth/authorize",
                f"POLARIS_TOKEN_FETCH_URL={hub_url}oauth/token",
                f"POLARIS_USER_INFO_URL={hub_url}oauth/userinfo",
                f"POLARIS_CLIENT_ID={DEFAULT_CLIENT_ID}",
                f"S3 endpoint {store.public_endpoint} (bucket polaris-hub; "
                + ("storage tokens checked on every request)" if gateway else "no credentials checked)"),
                f"S3 direct endpoint {store.endpoint} (moto itself, no credentials checked; for tests)",
                f"data dir {data_dir}" + (" (temporary, removed at exit)" if temp_dir else ""),
            ]
            lines += [f"user {name} password {password}" for name, password in credentials]
            lines.append("Press Ctrl+C to stop.")
            return lines

        async def serve() -> None:
            # Our own handlers (uvicorn's would re-raise the signal after shutdown and skip the snapshot below).
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, server.handle_exit, sig, None)
            task = asyncio.create_task(server._serve(sockets=[sock]))
            deadline = loop.time() + READY_TIMEOUT_SECONDS
            while not server.started and not task.done() and loop.time() < deadline:
                await asyncio.sleep(READY_POLL_SECONDS)
            if server.started:
                sys.stdout.write("\n".join(ready_lines()) + "\n")
                sys.stdout.flush()
            else:
                server.should_exit = True
            await task

        asyncio.run(serve())
        return 0 if server.started else 1
    finally:
        sock.close()
        if gateway is not None:
            gateway.stop()  # before the snapshot: no client writes race it
        try:
            if options.data_dir is not None and store.endpoint:
                count = store.snapshot(data_dir)
                log.info("saved %d objects to %s", count, data_dir)
        finally:
            store.stop()
            db.close()
            if temp_dir is not None:
                shutil.rmtree(temp_dir, ignore_errors=True)
