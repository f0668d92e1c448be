"""Object storage of the local Hub: a moto S3 server on loopback (one bucket), made durable by a disk store.

moto speaks the S3 protocol but keeps objects in memory and checks no credentials. Clients reach it through the S3
gateway of :mod:`polaris.emulator.s3gate` (``public_endpoint``), which checks the storage token on every request; the
emulator itself (seeding, evaluation) talks to moto directly (``endpoint``). moto's own port answers only requests that
carry the emulator's per-process secret (``INTERNAL_HEADER``, added by the gateway and the emulator's own client), so
it is no back door around the token checks; ``--expose-direct-s3`` (tests that tamper with objects) drops that check.

With ``--data-dir`` every object is also a file on disk, written before the write is acknowledged
(:meth:`ObjectStore.persist`); the files, their verification at start and the retained versions an overwrite keeps are
:class:`polaris.emulator.disk_store.DiskStore`'s.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from polaris.emulator.disk_store import DiskStore, RetainedVersion, ScanReport, StagedObject, StoredObject, fsync_dir

BUCKET = "polaris-hub"
REGION = "us-east-1"
# moto accepts any credentials; these are what the emulator itself uses.
SERVICE_KEY = "polaris-emulator"
SERVICE_SECRET = "polaris-emulator-secret"
LIST_PAGE_SIZE = 1000

LEGACY_SNAPSHOT_DIR = "objects"
"""Where emulators before the durable store wrote their shutdown snapshot (``index.json`` + blobs); migrated once."""
LEGACY_SNAPSHOT_INDEX = "index.json"
LOCK_STRIPES = 64
"""Per-key write locks (striped): a write to moto and its file on disk happen as one step per key."""
READ_CHUNK = 1024 * 1024
MOTO_TIMEOUT_SECONDS = 60.0
PERSISTED_HEADERS = frozenset(
    {"content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires"}
)
"""Response headers of moto kept with an object (plus every ``x-amz-meta-*``)."""
META_PREFIX = "x-amz-meta-"
INTERNAL_HEADER = "x-polaris-emulator-internal"
"""Header carrying the per-process secret without which moto refuses requests (unless its endpoint is exposed)."""

_SERVICE_AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential={SERVICE_KEY}/20260101/{REGION}/s3/aws4_request, SignedHeaders=host, Signature=0"
)
"""moto treats requests without credentials as anonymous (403 on a private bucket) but checks no signature."""

log = logging.getLogger(__name__)


def _internal_only(app: Any, secret: str | None) -> Any:
    """WSGI wrapper: refuse (403 AccessDenied) requests without ``INTERNAL_HEADER: secret``; strip the header."""
    environ_key = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>This is the local Hub\'s '
        b"internal storage port; use the S3 endpoint of the storage token (start the emulator with "
        b"--expose-direct-s3 to reach moto directly).</Message></Error>"
    )

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        given = str(environ.pop(environ_key, ""))
        if secret is not None and not hmac.compare_digest(given.encode(), secret.encode()):
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return guarded


def _moto_server(host: str, secret: str | None) -> tuple[Any, Any]:
    """A ``ThreadedMotoServer`` whose WSGI app is wrapped by :func:`_internal_only`, and that app."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class S3Dispatcher(DomainDispatcherApplication):
        """moto's dispatcher, told that every request is for S3 (the only service the local Hub runs).

        The stock one works out the service of every request under one global lock: it parses the Authorization
        header, lists moto's package folder and tries hundreds of URL patterns (~1 ms of CPU per request).
        """

        def get_application(self, environ: dict[str, Any]) -> Any:
            if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
                return super().get_application(environ)
            with self.lock:
                app = self.app_instances.get("s3")
                if app is None:
                    app = self.app_instances["s3"] = self.create_app("s3")
            return app

    app = _internal_only(S3Dispatcher(create_backend_app), secret)

    class GuardedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return GuardedMotoServer(ip_address=host, port=0, verbose=False), app


class ObjectStore:
    """The moto server plus a boto3 client the emulator uses for seeding and evaluation; optionally durable.

    Args:
        host: loopback address moto listens on.
        disk: with a :class:`DiskStore`, every object written through :meth:`put` or the gateway (which calls
            :meth:`persist`) is on disk before the write returns, and :meth:`load` brings the disk back into moto.
        internal_only: moto answers only requests carrying :attr:`internal_headers` (the gateway's and ours).
    """

    def __init__(self, host: str = "127.0.0.1", disk: DiskStore | None = None, *, internal_only: bool = False) -> None:
        self._host = host
        self._secret = secrets.token_urlsafe(24) if internal_only else None
        self._server: Any = None
        self._client: Any = None
        self._upstream: tuple[str, int] = ("", 0)
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self.disk = disk
        self.endpoint = ""
        """moto itself (no credentials checked)."""
        self.public_endpoint = ""
        """What storage tokens hand out: the gateway when one runs, else moto."""
        self.wsgi_app: Any = None
        """moto's WSGI app (the one its HTTP server runs), for the gateway to call in-process."""

    @property
    def internal_headers(self) -> dict[str, str]:
        """Headers every request to moto must carry."""
        return {} if self._secret is None else {INTERNAL_HEADER: self._secret}

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server, self.wsgi_app = _moto_server(self._host, self._secret)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}/"
        self.public_endpoint = self.endpoint
        parsed = urlsplit(self.endpoint)
        assert parsed.hostname is not None and parsed.port is not None
        self._upstream = (parsed.hostname, parsed.port)
        self._client = self._make_client()
        with contextlib.suppress(self._client.exceptions.BucketAlreadyOwnedByYou):
            self._client.create_bucket(Bucket=BUCKET)

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=SERVICE_KEY,
            aws_secret_access_key=SERVICE_SECRET,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )
        extra = self.internal_headers

        def add_internal_headers(request: Any, **_: Any) -> None:
            for name, value in extra.items():
                request.headers[name] = value

        if extra:
            client.meta.events.register("before-sign.s3", add_internal_headers)
        return client

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("object store not started")
        return self._client

    @property
    def durable(self) -> bool:
        return self.disk is not None

    @contextlib.contextmanager
    def key_lock(self, key: str) -> Iterator[None]:
        """Serialises writes of one key: moto's copy and the file on disk change together."""
        lock = self._locks[hash(key) % LOCK_STRIPES]
        with lock:
            yield

    # ------------------------------------------------------------- raw moto
    def _moto(self, method: str, key: str, headers: dict[str, str], body: bytes | None = None) -> Any:
        host, port = self._upstream
        conn = http.client.HTTPConnection(host, port, timeout=MOTO_TIMEOUT_SECONDS)
        try:
            conn.request(
                method,
                f"/{BUCKET}/{quote(key, safe='/-_.~')}",
                body=body,
                headers={"Authorization": _SERVICE_AUTHORIZATION, **headers, **self.internal_headers},
            )
            return conn, conn.getresponse()
        except BaseException:
            conn.close()
            raise

    # ------------------------------------------------------------- objects
    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        """Store an object (in moto, and on disk first when durable)."""
        md5 = hashlib.md5(data).hexdigest()
        with self.key_lock(key):
            self.client.put_object(
                Bucket=BUCKET, Key=key, Body=data, ContentType=content_type, Metadata={"md5sum": md5}
            )
            if self.disk is not None:
                self.disk.write(key, [data], {"content-type": content_type, META_PREFIX + "md5sum": md5})

    def stage(self) -> StagedObject | None:
        """A temporary file the gateway copies a PutObject body into as it forwards it (None when not durable)."""
        return None if self.disk is None else self.disk.stage()

    def persist(
        self,
        key: str,
        staged: StagedObject | None = None,
        etag: str | None = None,
        request_headers: dict[str, str] | None = None,
    ) -> StoredObject | None:
        """Put moto's current version of ``key`` on disk (durably); call it holding :meth:`key_lock`.

        With ``staged`` (the body the client sent, copied as it was forwarded) whose md5 equals moto's ``etag``, that
        copy is committed with the request's content headers; otherwise (copies, completed multipart uploads,
        aws-chunked bodies) the object is read back from moto. Returns what was stored, or None when the store is not
        durable or moto has no such object.

        Raises:
            OSError: moto could not be read or the file could not be written.
        """
        if self.disk is None:
            return None
        if staged is not None:
            if not staged.failed and etag is not None and etag.strip('"') == staged.md5:
                headers = {
                    name.lower(): value
                    for name, value in (request_headers or {}).items()
                    if name.lower() in PERSISTED_HEADERS or name.lower().startswith(META_PREFIX)
                }
                return self.disk.commit(staged, key, headers)
            staged.abort()
        conn, response = self._moto("GET", key, {})
        try:
            if response.status == 404:
                response.read()
                return None
            if response.status != 200:
                raise OSError(f"moto answered {response.status} reading {key!r} back")
            headers = {
                name.lower(): value
                for name, value in response.getheaders()
                if name.lower() in PERSISTED_HEADERS or name.lower().startswith(META_PREFIX)
            }

            def chunks() -> Iterator[bytes]:
                while chunk := response.read(READ_CHUNK):
                    yield chunk

            stored = self.disk.write(key, chunks(), headers)
            declared = response.getheader("Content-Length")
            if declared is not None and int(declared) != stored.size:
                raise OSError(f"moto broke off while {key!r} was read back")
            return stored
        finally:
            conn.close()

    def _load_one(self, obj: StoredObject, body: bytes) -> None:
        headers = dict(obj.headers)
        headers["Content-Length"] = str(len(body))
        headers["Content-MD5"] = base64.b64encode(bytes.fromhex(obj.md5)).decode()
        conn, response = self._moto("PUT", obj.key, headers, body)
        try:
            response.read()
            if response.status != 200:
                raise OSError(f"moto answered {response.status} loading {obj.key!r}")
        finally:
            conn.close()

    def load(self) -> ScanReport:
        """Open the disk store and load every verified object into moto (call after :meth:`start`).

        Raises:
            OSError: the store cannot be read or moto refused an object.
        """
        if self.disk is None:
            return ScanReport()
        return self.disk.open(self._load_one)

    def persist_all(self) -> int:
        """Copy every object in moto to disk (for ``--no-storage-auth``, where clients write to moto directly)."""
        count = 0
        for key in self.keys():
            with self.key_lock(key):
                if self.persist(key) is not None:
                    count += 1
        return count

    def delete(self, key: str) -> None:
        """Remove an object from moto and disk."""
        with self.key_lock(key):
            self.client.delete_object(Bucket=BUCKET, Key=key)
            if self.disk is not None:
                self.disk.delete(key)

    def restore(self, version: RetainedVersion) -> StoredObject:
        """Make a retained version of an object current again, on disk and in moto (see :meth:`DiskStore.restore`).

        Raises:
            OSError: the files could not be moved or moto refused the object.
            DamagedObjectError: the retained file is damaged.
        """
        if self.disk is None:
            raise RuntimeError("the object store is not durable")
        with self.key_lock(version.obj.key):
            obj, body = self.disk.restore(version)
            self._load_one(obj, body)
        return obj

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=BUCKET, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(response["Body"].read())

    def keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    # ----------------------------------------------------- legacy snapshots
    def migrate_legacy_snapshot(self, data_dir: Path) -> int:
        """Bring a shutdown snapshot of an older emulator (``<data-dir>/objects/index.json``) into the durable store.

        Every object is written durably first; only then is the old folder removed, so a kill midway repeats the
        migration at the next start. Returns the number of objects migrated.
        """
        source = data_dir / LEGACY_SNAPSHOT_DIR
        staging = data_dir / (LEGACY_SNAPSHOT_DIR + ".incomplete")
        if staging.exists():
            shutil.rmtree(staging)  # a snapshot that never completed: the previous one (if any) is still in place
        index_file = source / LEGACY_SNAPSHOT_INDEX
        if not index_file.exists():
            return 0
        try:
            index = json.loads(index_file.read_text())
        except ValueError:
            log.warning("legacy snapshot %s is unreadable; left in place", index_file)
            return 0
        count = 0
        for item in index:
            blob = source / str(item.get("file", ""))
            if not blob.is_file():
                log.warning("legacy snapshot: %s is missing; object %r skipped", blob.name, item.get("key"))
                continue
            data = blob.read_bytes()
            metadata = {str(k).lower(): str(v) for k, v in (item.get("metadata") or {}).items()}
            content_type = str(item.get("content_type") or "application/octet-stream")
            with self.key_lock(item["key"]):
                self.client.put_object(
                    Bucket=BUCKET, Key=item["key"], Body=data, ContentType=content_type, Metadata=metadata
                )
                if self.disk is not None:
                    headers = {"content-type": content_type, **{META_PREFIX + k: v for k, v in metadata.items()}}
                    self.disk.write(item["key"], [data], headers)
            count += 1
        if self.disk is not None:
            shutil.rmtree(source)
            fsync_dir(data_dir)
        return count


def content_md5(data: bytes) -> str:
    import hashlib

    return base64.b64encode(hashlib.md5(data).digest()).decode()
