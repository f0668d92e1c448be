"""Object storage of the local Hub: a moto S3 server on loopback (one bucket), made durable by :class:`DiskStore`.

moto speaks the S3 protocol but keeps objects in memory and checks no credentials. Clients reach it through the S3
gateway of :mod:`polaris.emulator.s3gate` (``public_endpoint``), which checks the storage token on every request; the
emulator itself (seeding, evaluation) talks to moto directly (``endpoint``). moto's own port answers only requests that
carry the emulator's per-process secret (``INTERNAL_HEADER``, added by the gateway and the emulator's own client), so
it is no back door around the token checks; ``--expose-direct-s3`` (tests that tamper with objects) drops that check.

With ``--data-dir`` every object is also a file under ``<data-dir>/store/objects/``, written before the write is
acknowledged: the gateway holds the key's lock while moto stores the object, then reads it back from moto, writes it
to a temporary file, fsyncs it, renames it into place and fsyncs the directory, and only then relays moto's answer
(see :meth:`ObjectStore.persist`). At start the files are verified (md5) and loaded back into moto; leftover temporary
files are removed and damaged files moved aside (:meth:`DiskStore.open`). Nothing is written at shutdown, so a kill at
any moment leaves a data dir that starts.

An object that is overwritten with other content keeps its previous version in ``<data-dir>/store/retained/`` (a hard
link of the old file, made durable before the new file is renamed into place), so that the start-up repair
(:mod:`polaris.emulator.repair`) can put a published artifact back together when a replacement of its objects was cut
short. Retained versions are dropped once the artifact they belong to is complete again
(:meth:`DiskStore.prune_retained`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import os
import secrets
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

BUCKET = "polaris-hub"
REGION = "us-east-1"
# moto accepts any credentials; these are what the emulator itself uses.
SERVICE_KEY = "polaris-emulator"
SERVICE_SECRET = "polaris-emulator-secret"
LIST_PAGE_SIZE = 1000

STORE_DIR = "store"
"""Durable objects live in ``<data-dir>/store/{objects,tmp,damaged,retained,displaced}``."""
LEGACY_SNAPSHOT_DIR = "objects"
"""Where emulators before the durable store wrote their shutdown snapshot (``index.json`` + blobs); migrated once."""
LEGACY_SNAPSHOT_INDEX = "index.json"
OBJECT_SUFFIX = ".obj"
TEMP_SUFFIX = ".part"
TRAILER_END = b"POLOBJ1\n"
"""Last 8 bytes of every object file: ``<body><trailer JSON><u64 trailer length><TRAILER_END>``."""
LOCK_STRIPES = 64
"""Per-key write locks (striped): a write to moto and its file on disk happen as one step per key."""
LOAD_THREADS = 4
"""Threads loading objects from disk into moto at start."""
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


class DamagedObjectError(Exception):
    """An object file that is truncated, unreadable, or whose body does not match its recorded md5."""


@dataclass(frozen=True)
class StoredObject:
    """What the disk store knows of one object (the body is in the file)."""

    key: str
    md5: str
    size: int
    headers: dict[str, str]


@dataclass
class ScanReport:
    """What :meth:`DiskStore.open` found."""

    objects: int = 0
    temp_removed: int = 0
    damaged: list[str] = field(default_factory=list)
    retained: int = 0


@dataclass(frozen=True)
class RetainedVersion:
    """A previous version of an object, kept in ``retained/`` after the object was overwritten."""

    obj: StoredObject
    path: Path
    generation: int
    """Bumped whenever the version is retained again, so a prune started earlier leaves it alone."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest() + OBJECT_SUFFIX


def _retained_name(key: str, md5: str) -> str:
    """``<sha256(key)>.<md5>.obj``: one file per (key, content)."""
    return f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.{md5}{OBJECT_SUFFIX}"


class StagedObject:
    """A body being written to a temporary file of the store (md5 and size kept as it goes)."""

    def __init__(self, file: Any, path: Path) -> None:
        self.file = file
        self.path = path
        self._md5 = hashlib.md5()
        self.size = 0
        self.failed = False

    def write(self, chunk: bytes) -> None:
        """Append a chunk; a failing disk marks the staging failed instead of raising (the caller falls back)."""
        if self.failed:
            return
        try:
            self.file.write(chunk)
        except OSError:
            self.failed = True
            return
        self._md5.update(chunk)
        self.size += len(chunk)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class DiskStore:
    """Objects as files, each written completely (fsync), renamed into place and its directory fsync'd.

    One file per key: ``<sha256(key)>.obj`` holding the body followed by a JSON trailer (key, md5, size, headers), so
    body and metadata become visible together with one rename. A version an overwrite replaces stays, hard-linked, as
    ``retained/<sha256(key)>.<md5>.obj`` until :meth:`prune_retained`; :meth:`restore` makes it current again (the
    version it displaces moves to ``displaced/``: nothing acknowledged is deleted). Thread-safe.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects_dir = root / "objects"
        self.tmp_dir = root / "tmp"
        self.damaged_dir = root / "damaged"
        self.retained_dir = root / "retained"
        self.displaced_dir = root / "displaced"
        self._index: dict[str, StoredObject] = {}
        self._retained: dict[str, dict[str, RetainedVersion]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ start
    def _make_dirs(self) -> None:
        created = False
        for path in (self.root, self.objects_dir, self.tmp_dir, self.retained_dir):
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                created = True
        if created:
            for path in (self.root.parent, self.root):
                _fsync_dir(path)

    def open(self, consume: Callable[[StoredObject, bytes], None] | None = None) -> ScanReport:
        """Remove temporary files, verify every object file, move damaged ones to ``damaged/``, index the rest.

        ``consume(object, body)`` is called (from worker threads) for every verified object, e.g. to load it into moto.

        Raises:
            OSError: the store folders cannot be created or listed.
        """
        self._make_dirs()
        report = ScanReport()
        for leftover in self.tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if leftover.is_dir():
                    shutil.rmtree(leftover)
                else:
                    leftover.unlink()
                report.temp_removed += 1
        if report.temp_removed:
            _fsync_dir(self.tmp_dir)
        files = sorted(self.objects_dir.iterdir())

        def load(path: Path) -> tuple[Path, StoredObject | None, str]:
            try:
                obj, body = self._read_file(path)
            except DamagedObjectError as exc:
                return path, None, str(exc)
            if consume is not None:
                consume(obj, body)
            return path, obj, ""

        with ThreadPoolExecutor(LOAD_THREADS) as pool:
            for path, obj, problem in pool.map(load, files):
                if obj is None:
                    self._quarantine(path)
                    report.damaged.append(f"{path.name}: {problem}")
                    log.warning("object file %s is damaged (%s); moved to %s", path.name, problem, self.damaged_dir)
                    continue
                with self._lock:
                    self._index[obj.key] = obj
                report.objects += 1
        for path in sorted(self.retained_dir.iterdir()):
            try:
                obj, _ = self._read_file(path, retained=True)
            except DamagedObjectError as exc:
                self._quarantine(path)
                log.warning("retained version %s is damaged (%s); moved to %s", path.name, exc, self.damaged_dir)
                continue
            with self._lock:
                self._generation += 1
                self._retained.setdefault(obj.key, {})[obj.md5] = RetainedVersion(obj, path, self._generation)
            report.retained += 1
        return report

    def _quarantine(self, path: Path) -> None:
        self.damaged_dir.mkdir(exist_ok=True)
        target = self.damaged_dir / path.name
        n = 0
        while target.exists():
            n += 1
            target = self.damaged_dir / f"{path.name}.{n}"
        path.replace(target)
        _fsync_dir(self.objects_dir)

    def _read_file(self, path: Path, *, retained: bool = False) -> tuple[StoredObject, bytes]:
        if path.suffix != OBJECT_SUFFIX or not path.is_file():
            raise DamagedObjectError("not an object file")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DamagedObjectError(f"unreadable: {exc.strerror}") from None
        tail = 8 + len(TRAILER_END)
        if len(data) < tail or not data.endswith(TRAILER_END):
            raise DamagedObjectError("truncated (no trailer)")
        (length,) = struct.unpack(">Q", data[-tail : -len(TRAILER_END)])
        body_end = len(data) - tail - length
        if length > len(data) - tail or body_end < 0:
            raise DamagedObjectError("bad trailer length")
        try:
            trailer = json.loads(data[body_end : len(data) - tail])
            key, md5, size, headers = trailer["key"], trailer["md5"], trailer["size"], trailer["headers"]
        except (ValueError, KeyError, TypeError):
            raise DamagedObjectError("unreadable trailer") from None
        if not isinstance(key, str) or not isinstance(md5, str):
            raise DamagedObjectError("unreadable trailer")
        if (_retained_name(key, md5) if retained else _file_name(key)) != path.name:
            raise DamagedObjectError("file name does not match its key")
        body = data[:body_end]
        if size != len(body) or hashlib.md5(body).hexdigest() != md5:
            raise DamagedObjectError("body does not match its md5")
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise DamagedObjectError("bad headers")
        return StoredObject(key=key, md5=str(md5), size=int(size), headers=dict(headers)), body

    # ------------------------------------------------------------------ objects
    def stage(self) -> StagedObject:
        """A temporary file to stream a body into; :meth:`commit` it or :meth:`StagedObject.abort` it.

        Raises:
            OSError: the temporary file cannot be created.
        """
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=TEMP_SUFFIX)
        return StagedObject(os.fdopen(fd, "wb"), Path(name))

    def commit(self, staged: StagedObject, key: str, headers: dict[str, str]) -> StoredObject:
        """Make a staged body the object ``key``: trailer, fsync, rename into place, directory fsync.

        Raises:
            OSError: the file could not be written (the previous version of the object, if any, is unchanged).
        """
        try:
            obj = StoredObject(key=key, md5=staged.md5, size=staged.size, headers=dict(headers))
            trailer = json.dumps({"key": key, "md5": obj.md5, "size": obj.size, "headers": obj.headers}).encode()
            staged.file.write(trailer + struct.pack(">Q", len(trailer)) + TRAILER_END)
            staged.file.flush()
            os.fsync(staged.file.fileno())
            staged.file.close()
            self._retain(key, obj.md5)
            os.replace(staged.path, self.objects_dir / _file_name(key))
        except BaseException:
            staged.abort()
            raise
        _fsync_dir(self.objects_dir)
        with self._lock:
            self._index[key] = obj
        return obj

    def _retain(self, key: str, new_md5: str) -> None:
        """Keep the current version of ``key`` (when ``new_md5`` differs) as a hard link in ``retained/``, durably."""
        with self._lock:
            current = self._index.get(key)
            if current is None or current.md5 == new_md5:
                return
            versions = self._retained.setdefault(key, {})
            path = self.retained_dir / _retained_name(key, current.md5)
            linked = current.md5 not in versions
            if linked:
                with contextlib.suppress(FileExistsError):  # left by a kill between link and bookkeeping
                    os.link(self.objects_dir / _file_name(key), path)
            self._generation += 1
            versions[current.md5] = RetainedVersion(current, path, self._generation)
        if linked:
            _fsync_dir(self.retained_dir)

    def retained(self, keys: Callable[[str], bool]) -> dict[str, dict[str, RetainedVersion]]:
        """``{key: {md5: version}}`` of the retained versions of every key ``keys(key)`` accepts."""
        with self._lock:
            return {k: dict(v) for k, v in self._retained.items() if v and keys(k)}

    def prune_retained(self, versions: dict[str, dict[str, RetainedVersion]]) -> int:
        """Drop retained versions (as :meth:`retained` listed them) not retained again since; returns how many."""
        removed = 0
        with self._lock:
            for key, by_md5 in versions.items():
                known = self._retained.get(key, {})
                for md5, version in by_md5.items():
                    if known.get(md5) != version:
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        version.path.unlink()
                    del known[md5]
                    removed += 1
                if not known:
                    self._retained.pop(key, None)
        if removed:
            _fsync_dir(self.retained_dir)
        return removed

    def read_retained(self, version: RetainedVersion) -> bytes | None:
        """The body of a retained version (None when it is gone or damaged)."""
        try:
            _, body = self._read_file(version.path, retained=True)
        except DamagedObjectError:
            return None
        return body

    def restore(self, version: RetainedVersion) -> tuple[StoredObject, bytes]:
        """Make a retained version current again; the version it displaces moves to ``displaced/`` (kept, not served).

        Raises:
            OSError: the files could not be moved.
            DamagedObjectError: the retained file is damaged.
        """
        obj, body = self._read_file(version.path, retained=True)
        key = obj.key
        target = self.objects_dir / _file_name(key)
        current = self.get(key)
        if current is not None and current.md5 != obj.md5:
            self.displaced_dir.mkdir(exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.link(target, self.displaced_dir / _retained_name(key, current.md5))
            _fsync_dir(self.displaced_dir)
        os.replace(version.path, target)
        _fsync_dir(self.objects_dir)
        _fsync_dir(self.retained_dir)
        with self._lock:
            self._index[key] = obj
            versions = self._retained.get(key, {})
            versions.pop(obj.md5, None)
            if not versions:
                self._retained.pop(key, None)
        return obj, body

    def write(self, key: str, chunks: Iterable[bytes], headers: dict[str, str]) -> StoredObject:
        """Write an object durably (temporary file, fsync, rename, directory fsync); returns what was stored.

        Raises:
            OSError: the file could not be written (the previous version of the object, if any, is unchanged).
        """
        staged = self.stage()
        try:
            for chunk in chunks:
                staged.write(chunk)
        except BaseException:
            staged.abort()
            raise
        return self.commit(staged, key, headers)

    def delete(self, key: str) -> bool:
        """Remove an object's file (durably); False when there was none."""
        try:
            (self.objects_dir / _file_name(key)).unlink()
        except FileNotFoundError:
            return False
        finally:
            with self._lock:
                self._index.pop(key, None)
        _fsync_dir(self.objects_dir)
        return True

    def read(self, key: str) -> bytes | None:
        """The body of a stored object, or None when there is none (or it is damaged)."""
        try:
            _, body = self._read_file(self.objects_dir / _file_name(key))
        except DamagedObjectError:
            return None
        return body

    def get(self, key: str) -> StoredObject | None:
        with self._lock:
            return self._index.get(key)

    def digests(self) -> dict[str, str]:
        """``{key: md5 hex}`` of every stored object."""
        with self._lock:
            return {k: v.md5 for k, v in self._index.items()}


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
            _fsync_dir(data_dir)
        return count


def content_md5(data: bytes) -> str:
    import hashlib

    return base64.b64encode(hashlib.md5(data).digest()).decode()
