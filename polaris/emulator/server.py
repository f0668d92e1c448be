"""Start and stop the local Hub: data dir (locked), SQLite, durable moto S3 + token-checking gateway, uvicorn, signals.

With ``--data-dir`` the directory is locked (``fcntl`` lock on ``<data-dir>/emulator.lock``) for the emulator's
lifetime: a second emulator on the same data dir refuses to start. Objects are durable as they are acknowledged (see
:mod:`polaris.emulator.disk_store`); at start they are verified and loaded, and the rows are checked against them
(:mod:`polaris.emulator.repair`). Nothing needs to be saved at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from polaris.emulator.disk_store import STORE_DIR, DiskStore
from polaris.emulator.objects import BUCKET, ObjectStore
from polaris.emulator.s3gate import StorageGateway

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 30.0
READY_POLL_SECONDS = 0.02
GRACEFUL_SHUTDOWN_SECONDS = 2
DEFAULT_TOKEN_TTL = 3600
LOCK_FILE = "emulator.lock"
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
    expose_direct_s3: bool = False
    protocol: str = "all"  # "0.10", "0.13" or "all": which endpoint generations are served
    storage_latency_ms: int = 0  # added by the S3 gateway to every storage request


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


def lock_data_dir(data_dir: Path) -> int:
    """Take the data dir's lock (non-blocking); returns the open lock file descriptor (closing it releases the lock).

    Raises:
        EmulatorError: another process holds it (the message names its pid when known) or it cannot be created.
    """
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EmulatorError(f"cannot lock data dir {data_dir}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        with contextlib.suppress(OSError, ValueError):
            holder = os.pread(fd, 64, 0).decode().strip()
        os.close(fd)
        raise EmulatorError(
            f"data dir {data_dir} is in use by another running emulator"
            + (f" (pid {holder})" if holder.isdigit() else "")
            + "; stop it first or choose another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


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

    lock_fd = lock_data_dir(data_dir) if options.data_dir is not None else None
    try:
        sock = _bind(options.host, options.port)
    except BaseException:
        if lock_fd is not None:
            os.close(lock_fd)
        raise
    port = sock.getsockname()[1]
    hub_url = f"http://{_url_host(options.host)}:{port}/"
    db = Database(data_dir / "hub.sqlite3")
    store_host = options.host if options.host in ("127.0.0.1", "localhost") else "127.0.0.1"
    # a temporary data dir is removed at exit: its objects need not reach the disk
    disk = DiskStore(data_dir / STORE_DIR) if options.data_dir is not None else None
    store = ObjectStore(store_host, disk=disk, internal_only=options.storage_auth and not options.expose_direct_s3)
    gateway: StorageGateway | None = None
    try:
        store.start()
        if disk is not None:
            try:
                scan = store.load()
                migrated = store.migrate_legacy_snapshot(data_dir)
            except OSError as exc:
                raise EmulatorError(f"cannot load the objects of data dir {data_dir}: {exc}") from None
            log.info("loaded %d objects (%d migrated from a snapshot)", scan.objects, migrated)
            if scan.temp_removed:
                log.warning("removed %d unfinished object writes from %s", scan.temp_removed, disk.tmp_dir)
            if scan.damaged:
                log.warning("moved %d damaged object files to %s", len(scan.damaged), disk.damaged_dir)
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

        signer = TokenSigner(db.secret("jwt"), options.token_ttl, is_revoked=db.is_revoked)
        if options.storage_auth:
            gateway = StorageGateway(
                signer,
                store.endpoint,
                BUCKET,
                host=store_host,
                sink=store,
                upstream_headers=store.internal_headers,
                upstream_app=store.wsgi_app,
                latency=options.storage_latency_ms / 1000,
            )
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
        if disk is not None:
            from polaris.emulator.repair import repair

            repair(state)  # before anything is served: rows over objects that never all arrived
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
                f"Token revocation (RFC 7009, logout) at {hub_url}oauth/revoke",
                f"S3 endpoint {store.public_endpoint} (bucket polaris-hub; "
                + ("storage tokens checked on every request)" if gateway else "no credentials checked)"),
            ]
            if options.expose_direct_s3 or not gateway:
                lines.append(f"S3 direct endpoint {store.endpoint} (moto itself, no credentials checked; for tests)")
            lines.append(f"data dir {data_dir}" + (" (temporary, removed at exit)" if temp_dir else ""))
            lines += [f"user {name} password {password}" for name, password in credentials]
            lines.append("Press Ctrl+C to stop.")
            return lines

        async def serve() -> None:
            # Our own handlers (uvicorn's would re-raise the signal after shutdown and skip the clean-up below).
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
            gateway.stop()
        elif disk is not None and store.endpoint:
            # --no-storage-auth: clients wrote to moto directly, past the durable write path; save what is there
            with contextlib.suppress(OSError):
                log.info("saved %d objects to %s", store.persist_all(), disk.objects_dir)
        store.stop()
        db.close()
        if lock_fd is not None:
            os.close(lock_fd)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
