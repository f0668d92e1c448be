"""Lazy, verified, read-only access to a Zarr archive in the Hub's object storage (a zarr 3 store).

:class:`HubZarrStore` is a ``zarr.abc.store.Store`` over a :class:`~polaris.hub.storage.StorageSession`: zarr asks
for one key at a time and gets it straight from storage, so reading ten rows of a huge archive moves only the
chunks that hold them. Every object is checked against the Hub's manifest (md5 per key) when it arrives; a
mismatch raises :class:`~polaris.errors.PolarisChecksumError` and nothing is kept. Verified objects may be kept in
a content-addressed folder (:mod:`polaris.hub.storage.chunk_cache`: named by their verified md5, re-hashed on every
read) so that reading them again is local. A manifest md5 that is not 32 hex digits raises
:class:`~polaris.errors.InvalidArtifactError` before anything is read.

How the bytes move: zarr 3 calls the store's *async* methods, but async clients (obstore's async path inside
``zarr.storage.ObjectStore``) are the slow ones for large objects on this kind of machine (see STACK-NOTES). The
store therefore runs the session's synchronous GET (like every download of the session: SigV4-signed over urllib3, it
never follows a redirect with the credentials; with our retry and token-renewal loop) in a thread pool of its own,
as large as the session's concurrency cap: how many GETs are really in flight is the session's adaptive limit
(:mod:`.concurrency`), the same one its uploads and downloads use, on a Dask worker too.

Where the credentials come from is a *token source* (a callable returning a
:class:`~polaris.hub.storage.StorageToken`):

* :class:`LocalTokenSource` wraps the client's own storage-token exchange. It refuses to be pickled: the client
  (and its Hub token) never travels to another process by accident.
* :class:`DaskTokenSource` reads the current read-scoped storage token from a ``distributed.Variable`` that the
  client keeps fresh (:class:`StorageTokenPublisher`). A store pickled for Dask workers carries only this source,
  the storage URL and the manifest: never the Hub token.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zarr.abc.store import ByteRequest, OffsetByteRequest, RangeByteRequest, Store, SuffixByteRequest
from zarr.core.buffer import Buffer, BufferPrototype, default_buffer_prototype

from polaris.errors import InvalidArtifactError, PolarisChecksumError, StorageError
from polaris.hub.storage._util import bounded_map
from polaris.hub.storage.chunk_cache import ChunkCache, checked_md5
from polaris.hub.storage.classify import ObjectMissing
from polaris.hub.storage.constants import DEFAULT_MAX_CONCURRENCY
from polaris.hub.storage.session import StorageSession
from polaris.hub.storage.tokens import StorageToken, parse_url

__all__ = [
    "DaskTokenSource",
    "HubZarrStore",
    "LazyStats",
    "LocalTokenSource",
    "StorageTokenPublisher",
    "token_from_dict",
    "token_to_dict",
]

logger = logging.getLogger(__name__)

TokenSource = Callable[[], StorageToken]
Data = bytes | memoryview
"""An object's bytes: ``bytes`` (read from the local cache) or a read-only ``memoryview`` (fetched from storage)."""

_METADATA_DOCUMENTS = frozenset({".zmetadata", ".zarray", ".zgroup", ".zattrs", "zarr.json"})
"""Names of the Zarr metadata documents (JSON, parsed whole in memory) of formats 2 and 3."""
VARIABLE_TIMEOUT = 30.0
"""Seconds a worker waits for the published storage token."""
REFRESH_FRACTION = 0.5
"""The publisher renews the storage token after this fraction of its lifetime."""
MIN_REFRESH_INTERVAL = 0.2
"""Shortest pause between two renewals (seconds), whatever the token's lifetime."""


def token_to_dict(token: StorageToken) -> dict[str, Any]:
    """The token as plain data (for a Dask Variable). It holds storage credentials only."""
    return dataclasses.asdict(token)


def token_from_dict(data: Mapping[str, Any]) -> StorageToken:
    """Inverse of :func:`token_to_dict`.

    Raises:
        StorageError: the data is not a storage token.
    """
    try:
        return StorageToken(**dict(data))
    except TypeError as exc:
        raise StorageError(f"not a storage token: {exc}") from None


def _distributed() -> Any:
    """``dask.distributed`` (untyped), imported when first needed."""
    import importlib

    return importlib.import_module("distributed")


def _client_here() -> Any:
    """A Dask client usable from any thread of this process (zarr reads run in the store's own threads).

    ``distributed.get_client()`` only finds the worker from a task's thread; elsewhere the running worker of this
    process (a worker process has one) lends its client.
    """
    distributed = _distributed()
    try:
        return distributed.get_client()
    except ValueError:
        pass
    from distributed.worker import Worker

    for worker in list(Worker._instances):
        return worker._get_client()
    raise StorageError("no Dask client or worker in this process to read the published storage credentials from")


class LocalTokenSource:
    """The client's storage-token exchange for one artifact (read scope). Not picklable, on purpose."""

    def __init__(self, fetch: Callable[[], StorageToken]) -> None:
        self._fetch = fetch

    def __call__(self) -> StorageToken:
        return self._fetch()

    def __reduce__(self) -> Any:
        raise TypeError(
            "a Hub dataset opened in this process cannot be sent to another process with the client's login; "
            "use dataset.to_dask(...) with a dask.distributed Client, which hands workers storage credentials only"
        )


class DaskTokenSource:
    """Reads the current storage token from the ``distributed.Variable`` named ``name`` (on a Dask worker)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self) -> StorageToken:
        try:
            data = _distributed().Variable(self.name, client=_client_here()).get(timeout=VARIABLE_TIMEOUT)
        except Exception as exc:
            raise StorageError(
                f"no storage credentials published under {self.name!r} ({type(exc).__name__})",
                hint="Keep the client that built the Dask array running while the cluster reads it.",
            ) from None
        return token_from_dict(data)

    def __reduce__(self) -> Any:
        return (DaskTokenSource, (self.name,))


class StorageTokenPublisher:
    """Keeps a read-scoped storage token fresh in a ``distributed.Variable`` for Dask workers.

    The token comes from ``source`` (the client's exchange, in this process); a daemon thread renews it after
    :data:`REFRESH_FRACTION` of its lifetime and publishes the new one. Workers read it through
    :class:`DaskTokenSource`. Stopped by :meth:`close` (or when garbage collected).
    """

    def __init__(self, source: TokenSource, dask_client: Any, *, name: str | None = None) -> None:
        self.name = name or f"polaris-storage-{uuid.uuid4().hex}"
        self._source = source
        self._variable: Any = _distributed().Variable(self.name, client=dask_client)
        self._manifests: dict[str, Any] = {}
        self._stop = threading.Event()
        self.renewals = 0
        self._publish()
        self._thread = threading.Thread(
            target=_refresh_loop, args=(weakref.ref(self), self._stop), daemon=True, name="polaris-token-publisher"
        )
        self._thread.start()
        self._finalizer = weakref.finalize(self, self._stop.set)

    @property
    def token_source(self) -> DaskTokenSource:
        return DaskTokenSource(self.name)

    def _publish(self) -> StorageToken:
        token = self._source()
        self._variable.set(token_to_dict(token))
        self.current = token
        return token

    def _next_delay(self) -> float | None:
        token = self.current
        if token.expires_at is None:
            return None
        lifetime = max(0.0, token.expires_at - token.issued_at)
        due = token.issued_at + lifetime * REFRESH_FRACTION
        return max(MIN_REFRESH_INTERVAL, due - time.time())

    def publish_manifest(self, store: HubZarrStore) -> str | None:
        """Put the store's manifest in a Variable for the workers (once per archive); returns its name."""
        manifest = store.manifest
        if manifest is None:
            return None
        name = f"{self.name}-manifest-{hashlib.md5(store.store_url.encode()).hexdigest()[:12]}"
        if name not in self._manifests:
            variable = _distributed().Variable(name, client=self._variable.client)
            variable.set(manifest)
            self._manifests[name] = variable
        return name

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self._variable.delete()
        for variable in self._manifests.values():
            with contextlib.suppress(Exception):
                variable.delete()


def _refresh_loop(ref: weakref.ref[StorageTokenPublisher], stop: threading.Event) -> None:
    while not stop.is_set():
        publisher = ref()
        if publisher is None:
            return
        delay = publisher._next_delay()
        del publisher
        if stop.wait(delay if delay is not None else 3600.0):
            return
        publisher = ref()
        if publisher is None:
            return
        try:
            publisher._publish()
            publisher.renewals += 1
            logger.debug("published a renewed storage token for Dask workers")
        except Exception as exc:  # keep trying: workers still hold the previous token for a while
            logger.warning("could not renew the storage token for Dask workers: %s", exc)
        del publisher


@dataclass
class LazyStats:
    """What a lazy store moved: objects fetched from storage, their bytes, and reads served by the local cache."""

    requests: int = 0
    bytes: int = 0
    cache_hits: int = 0
    keys: list[str] = dataclasses.field(default_factory=list)


_MANIFESTS: dict[str, dict[str, str]] = {}


def _published_manifest(name: str) -> dict[str, str]:
    """The manifest published under ``name`` (fetched once per process)."""
    with _WORKER_LOCK:
        found = _MANIFESTS.get(name)
    if found is None:
        try:
            found = dict(_distributed().Variable(name, client=_client_here()).get(timeout=VARIABLE_TIMEOUT))
        except Exception as exc:
            raise StorageError(f"no manifest published under {name!r} ({type(exc).__name__})") from None
        with _WORKER_LOCK:
            _MANIFESTS[name] = found
    return found


_WORKER_RUNTIMES: dict[tuple[str, int, str], tuple[StorageSession, ThreadPoolExecutor]] = {}
_WORKER_LOCK = threading.Lock()


def _worker_runtime(
    source: DaskTokenSource, max_workers: int, ca_bundle: str | Path | bool | None
) -> tuple[StorageSession, ThreadPoolExecutor]:
    """One storage session and thread pool per published credential in this (worker) process."""
    key = (source.name, max_workers, repr(ca_bundle))
    with _WORKER_LOCK:
        runtime = _WORKER_RUNTIMES.get(key)
        if runtime is None:
            session = StorageSession(source, max_workers=max_workers, progress=False, ca_bundle=ca_bundle)
            runtime = (session, ThreadPoolExecutor(max_workers, thread_name_prefix="polaris-lazy-worker"))
            _WORKER_RUNTIMES[key] = runtime
        return runtime


class HubZarrStore(Store):
    """A read-only zarr 3 store over one Zarr archive in the Hub's storage.

    Args:
        token_source: returns a (read-scoped) :class:`StorageToken`; called again when it expires.
        store_url: the archive's storage URL (``<scheme>://<bucket>/<prefix>``).
        manifest: relative key -> md5 hex. Keys outside it are reported missing without asking storage; every
            object is verified. ``None``: no verification, listing and existence go to storage.
        artifact: artifact id for error messages.
        cache_dir: keep verified objects here, named by md5 (``None``: keep nothing).
        max_workers: the most GETs in flight (the cap of the session's adaptive limit; default: the adopted
            session's cap, else :data:`~polaris.hub.storage.constants.DEFAULT_MAX_CONCURRENCY`).
        ca_bundle: as for :class:`StorageSession`.
        session: an open session whose provider is ``token_source`` (adopted; closed with the store).
    """

    supports_writes = False
    supports_deletes = False
    supports_listing = True
    supports_partial_writes = False

    def __init__(
        self,
        token_source: TokenSource,
        store_url: str,
        *,
        manifest: Mapping[str, str] | None,
        artifact: str = "",
        cache_dir: Path | None = None,
        max_workers: int | None = None,
        ca_bundle: str | Path | bool | None = None,
        read_only: bool = True,
        session: StorageSession | None = None,
    ) -> None:
        if not read_only:
            raise ValueError("HubZarrStore is read-only")
        super().__init__(read_only=True)
        parse_url(store_url)  # validates
        self.store_url = store_url.rstrip("/")
        self._manifest = dict(manifest) if manifest is not None else None
        self._manifest_var: str | None = None
        self.artifact = artifact
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if max_workers is None:
            max_workers = session.max_workers if session is not None else DEFAULT_MAX_CONCURRENCY
        self.max_workers = max_workers
        self.ca_bundle = ca_bundle
        self._token_source = token_source
        self._init_runtime(session)

    @property
    def _chunks(self) -> ChunkCache | None:
        return None if self.cache_dir is None else ChunkCache(self.cache_dir)

    def _init_runtime(self, session: StorageSession | None = None) -> None:
        self._lock = threading.Lock()
        self._session = session  # an open session on the token source (saves a token exchange), else made lazily
        self._pool: ThreadPoolExecutor | None = None
        self._listing: list[str] | None = None
        self.stats = LazyStats()

    @property
    def manifest(self) -> dict[str, str] | None:
        """Relative key -> md5 hex (on a Dask worker: read once per process from the published Variable)."""
        if self._manifest is None and self._manifest_var is not None:
            self._manifest = _published_manifest(self._manifest_var)
        return self._manifest

    # -- pickling: storage URL, manifest (or where workers read it) and token source; sessions are per process --
    def __getstate__(self) -> dict[str, Any]:
        return {
            "store_url": self.store_url,
            "manifest": self._manifest if self._manifest_var is None else None,
            "manifest_var": self._manifest_var,
            "artifact": self.artifact,
            "max_workers": self.max_workers,
            "ca_bundle": self.ca_bundle,
            "token_source": self._token_source,
            "is_open": self._is_open,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._read_only = True
        self._is_open = bool(state["is_open"])
        self.store_url = state["store_url"]
        self._manifest = state["manifest"]
        self._manifest_var = state["manifest_var"]
        self.artifact = state["artifact"]
        self.cache_dir = None  # a worker's disk is not the client's cache
        self.max_workers = state["max_workers"]
        self.ca_bundle = state["ca_bundle"]
        self._token_source = state["token_source"]
        self._init_runtime()

    def with_token_source(self, token_source: TokenSource, *, manifest_var: str | None = None) -> HubZarrStore:
        """The same archive read with other credentials (e.g. a :class:`DaskTokenSource`); no local cache.

        ``manifest_var``: the name of a ``distributed.Variable`` holding the manifest; the copy then pickles
        without it (Dask tasks stay small) and workers read it once per process.
        """
        copy = HubZarrStore(
            token_source,
            self.store_url,
            manifest=self.manifest,
            artifact=self.artifact,
            cache_dir=None,
            max_workers=self.max_workers,
            ca_bundle=self.ca_bundle,
        )
        copy._manifest_var = manifest_var
        return copy

    def with_read_only(self, read_only: bool = False) -> HubZarrStore:
        if not read_only:
            raise ValueError("HubZarrStore is read-only")
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HubZarrStore) and other.store_url == self.store_url

    def __hash__(self) -> int:
        return hash(self.store_url)

    def __repr__(self) -> str:
        return f"HubZarrStore({self.store_url!r})"

    def close(self) -> None:
        """Release the storage session and threads (the store can be used again afterwards)."""
        with self._lock:
            session, pool = self._session, self._pool
            self._session = self._pool = None
        if self._shared():  # the process-wide worker runtime outlives one copy of the store
            super().close()
            return
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        if session is not None:
            session.close()
        super().close()

    # -- plumbing --
    def _get_session(self) -> StorageSession:
        with self._lock:
            if self._session is None:
                if isinstance(self._token_source, DaskTokenSource):
                    # a worker unpickles a fresh copy of the store for every graph: they share one session
                    self._session = _worker_runtime(self._token_source, self.max_workers, self.ca_bundle)[0]
                else:
                    self._session = StorageSession(
                        self._token_source, max_workers=self.max_workers, progress=False, ca_bundle=self.ca_bundle
                    )
            return self._session

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                if isinstance(self._token_source, DaskTokenSource):
                    self._pool = _worker_runtime(self._token_source, self.max_workers, self.ca_bundle)[1]
                else:
                    self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="polaris-lazy")
            return self._pool

    def _shared(self) -> bool:
        return isinstance(self._token_source, DaskTokenSource)

    def fetch(self, key: str, *, keep: bool = True) -> Data | None:
        """The verified bytes of ``key`` (cache first, then storage); ``None`` when there is no such object.

        ``keep``: put a verified object fetched from storage into the local cache (when the store has one).

        Raises:
            PolarisChecksumError: the object differs from the manifest (nothing is cached).
            InvalidArtifactError: the manifest's md5 for ``key`` is not 32 hex digits (nothing is read).
            StorageError: storage could not be read.
        """
        expected = None
        chunks = self._chunks
        if self.manifest is not None:
            listed = self.manifest.get(key)
            if listed is None:
                return None
            expected = checked_md5(listed, key=key, artifact=self.artifact or None)
            local = chunks.get(expected) if chunks is not None else None  # re-hashed: a damaged file is a miss
            if local is not None:
                with self._lock:
                    self.stats.cache_hits += 1
                return local
        found = self._get_remote(key)
        if found is None:
            if expected is not None:
                raise PolarisChecksumError(
                    "an object of the manifest is missing from storage", artifact=self.artifact or None, chunk=key
                )
            return None
        data, actual = found  # md5 computed while the bytes streamed in: no second pass over the object
        if expected is not None:
            if actual != expected:
                raise PolarisChecksumError(
                    "downloaded data does not match its checksum",
                    artifact=self.artifact or None,
                    chunk=key,
                    expected=expected,
                    actual=actual,
                )
            if keep and chunks is not None:
                chunks.put(expected, data)  # only now, after the md5 matched
        return data

    def _get_remote(self, key: str) -> tuple[Data, str] | None:
        """The object's bytes (one buffer, straight from the socket) and their md5 hex; ``None`` when missing.

        A Zarr metadata document (``.zmetadata``, ``.zarray``, ``.zgroup``, ``.zattrs``, ``zarr.json``) is JSON
        that zarr parses in memory: it is read at most :data:`~polaris.hub.direct.METADATA_MAX_BYTES` (the cap the
        direct reader uses for ``.zmetadata``), any other object at most the default ``max_declared_bytes``.

        Raises:
            DeclaredSizeError: the object is (or announces itself) longer than its bound.
        """
        transport = self._get_session().transport
        loc = parse_url(f"{self.store_url}/{key}")
        max_bytes: int | None = None
        if key.rsplit("/", 1)[-1] in _METADATA_DOCUMENTS:
            from polaris.hub.direct import METADATA_MAX_BYTES

            max_bytes = METADATA_MAX_BYTES

        def attempt() -> tuple[int, tuple[Data, str]]:
            # the session's signed GET, as every download: never follows a redirect with the storage credentials
            generation, reader = transport.reader()
            return generation, reader.read_hashed(loc, max_bytes=max_bytes)

        try:
            data, md5 = transport.call(f"GET {loc.bucket}/{loc.key}", attempt)
        except ObjectMissing:
            return None
        with self._lock:
            self.stats.requests += 1
            self.stats.bytes += data.nbytes if isinstance(data, memoryview) else len(data)
            self.stats.keys.append(key)
        return data, md5

    def fetch_many(self, keys: Iterable[str], *, keep: bool = False) -> dict[str, Data]:
        """Fetch (and verify) many keys concurrently, into memory only unless ``keep``; missing ones are left out."""
        pool = self._executor()
        limit = self._get_session().transport.limit
        out: dict[str, Data] = {}
        errors: list[BaseException] = []
        # as many keys in flight as the session's limit lets run, each worker taking the next key itself. After a
        # failure nothing new starts; what runs finishes (and keeps what it verified) before the error is raised.
        wanted = (key for key in keys if not errors)
        results = bounded_map(pool, lambda k: self.fetch(k, keep=keep), wanted, lambda: limit.limit)
        for key, future in results:
            exc = future.exception()
            if exc is not None:
                errors.append(exc)
                continue
            found = future.result()
            if found is not None:
                out[key] = found
        if errors:
            raise errors[0]
        return out

    def keys(self) -> list[str]:
        """Every key of the archive (from the manifest, else a storage listing)."""
        if self.manifest is not None:
            return sorted(self.manifest)
        with self._lock:
            listing = self._listing
        if listing is None:
            listing = [name for name, _ in self._get_session().list_objects(self.store_url)]
            with self._lock:
                self._listing = listing
        return listing

    # -- zarr.abc.store.Store --
    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        if prototype is None:
            prototype = default_buffer_prototype()
        await self._ensure_open()
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(self._executor(), self.fetch, key)
        if data is None:
            return None
        return prototype.buffer.from_bytes(_slice(data, byte_range))

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        # A chunk is verified whole, so a partial read fetches it whole (once) and slices it.
        return list(await asyncio.gather(*(self.get(k, prototype, r) for k, r in key_ranges)))

    async def exists(self, key: str) -> bool:
        if self.manifest is not None:
            return key in self.manifest
        loop = asyncio.get_running_loop()
        return key in await loop.run_in_executor(self._executor(), lambda: set(self.keys()))

    async def set(self, key: str, value: Buffer) -> None:
        self._check_writable()

    async def delete(self, key: str) -> None:
        self._check_writable()

    async def _all_keys(self) -> list[str]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), self.keys)

    async def list(self) -> AsyncIterator[str]:
        for key in await self._all_keys():
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        for key in await self._all_keys():
            if key.startswith(prefix):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        start = f"{prefix}/" if prefix else ""
        seen: set[str] = set()
        for key in await self._all_keys():
            if key.startswith(start) and key != prefix:
                child = key[len(start) :].split("/", 1)[0]
                if child not in seen:
                    seen.add(child)
                    yield child


def _slice(data: Data, byte_range: ByteRequest | None) -> Data:
    if byte_range is None:
        return data
    if isinstance(byte_range, RangeByteRequest):
        return data[byte_range.start : byte_range.end]
    if isinstance(byte_range, OffsetByteRequest):
        return data[byte_range.offset :]
    if isinstance(byte_range, SuffixByteRequest):
        return data[-byte_range.suffix :] if byte_range.suffix else b""
    raise InvalidArtifactError(f"unsupported byte range {byte_range!r}")


class RemoteArchive:
    """A dataset's Zarr archive opened in storage: the lazy store, plus publishers of worker credentials."""

    def __init__(self, store: HubZarrStore) -> None:
        self.store = store
        self._publishers: dict[int, StorageTokenPublisher] = {}
        self._lock = threading.Lock()

    def group(self, store: HubZarrStore | None = None) -> Any:
        """The archive's root group (read-only) over ``store`` (default: the in-process store)."""
        import zarr

        return zarr.open_group(store=store if store is not None else self.store, mode="r")

    def store_for_workers(self, dask_client: Any) -> HubZarrStore:
        """A copy of the store that Dask workers can unpickle: storage credentials published for them only."""
        with self._lock:
            publisher = self._publishers.get(id(dask_client))
            if publisher is None:
                publisher = StorageTokenPublisher(self.store._token_source, dask_client)
                self._publishers[id(dask_client)] = publisher
            manifest_var = publisher.publish_manifest(self.store)
        return self.store.with_token_source(publisher.token_source, manifest_var=manifest_var)

    def publisher(self, dask_client: Any) -> StorageTokenPublisher | None:
        with self._lock:
            return self._publishers.get(id(dask_client))

    def close(self) -> None:
        with self._lock:
            publishers = list(self._publishers.values())
            self._publishers.clear()
        for publisher in publishers:
            publisher.close()
        self.store.close()

    def __reduce__(self) -> Any:
        raise TypeError("a remote archive cannot be pickled; open the dataset again in the other process")
