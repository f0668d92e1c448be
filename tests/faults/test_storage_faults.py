"""Storage transfers under faults, through a real fault-injecting HTTP proxy in front of moto (loopback).

The proxy forwards every S3 request to moto, and can: answer with an S3 XML error (503 + Retry-After, ExpiredToken,
AccessDenied, 412...), drop the connection, cut a response body in half, delay requests (to measure how many are in
flight), and reject a PUT whose Content-MD5 does not match its body (as real S3 does; moto does not check it).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import zarr
from moto.server import ThreadedMotoServer

from polaris.errors import PartialUploadError, PolarisChecksumError, StorageError
from polaris.hub.storage import PART_SIZE, StorageSession, StorageToken, parse_url, stage_zarr

BUCKET = "polaris-faults"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade", "expect"}


@dataclass
class Fault:
    """One injected failure, consumed by the first request it matches (``times`` requests in all)."""

    kind: str  # "status" | "drop" | "truncate"
    status: int = 503
    code: str = "ServiceUnavailable"
    headers: dict[str, str] = field(default_factory=dict)
    match: Callable[[str, str], bool] = lambda method, path: True
    times: int = 1


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    status: int = 0


class FaultProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.delay = 0.0
        self.faults: list[Fault] = []
        self.log: list[Seen] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.log.clear()
            self.delay = 0.0
            self.max_in_flight = self.in_flight  # in_flight is live: requests may still be finishing

    def requests(self, method: str | None = None, status: int | None = None) -> list[Seen]:
        with self._lock:
            return [
                s for s in self.log if (method is None or s.method == method) and (status is None or s.status == status)
            ]

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.match(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    @staticmethod
    def _error(h: BaseHTTPRequestHandler, status: int, code: str, headers: dict[str, str] | None = None) -> None:
        xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>injected</Message></Error>'
        body = xml.encode()
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", "0" if h.command == "HEAD" else str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        seen = Seen(h.command, h.path, {k.lower(): v for k, v in h.headers.items()})
        with self._lock:
            self.log.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            fault = self._take(h.command, h.path)
            if fault is not None and fault.kind == "drop":
                seen.status = -1
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and fault.kind == "status":
                seen.status = fault.status
                self._error(h, fault.status, fault.code, fault.headers)
                return
            content_md5 = seen.headers.get("content-md5")
            if content_md5 is not None and base64.b64decode(content_md5) != hashlib.md5(body).digest():
                seen.status = 400
                self._error(h, 400, "BadDigest")
                return
            self._forward(h, body if length else None, fault, seen)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _forward(self, h: BaseHTTPRequestHandler, body: bytes | None, fault: Fault | None, seen: Seen) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP_BY_HOP}
            conn.request(h.command, h.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            seen.status = resp.status
            h.send_response(resp.status)
            for name, value in resp.getheaders():
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    h.send_header(name, value)
            length = resp.getheader("Content-Length") or "0" if h.command == "HEAD" else str(len(data))
            h.send_header("Content-Length", length)
            h.end_headers()
            if h.command == "HEAD":
                return
            if fault is not None and fault.kind == "truncate":
                h.wfile.write(data[: len(data) // 2])
                h.wfile.flush()
                h.close_connection = True
                h.connection.shutdown(socket.SHUT_RDWR)
                return
            h.wfile.write(data)
        finally:
            conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_port() -> Iterator[int]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            region_name="us-east-1",
        ).create_bucket(Bucket=BUCKET)
        yield port
    finally:
        server.stop()


@pytest.fixture(scope="module")
def _proxy(moto_port: int) -> Iterator[FaultProxy]:
    proxy = FaultProxy(moto_port)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def proxy(_proxy: FaultProxy) -> FaultProxy:
    _proxy.reset()
    return _proxy


class CountingProvider:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.calls = 0

    def __call__(self) -> StorageToken:
        self.calls += 1
        return StorageToken.from_response(
            {
                "access_token": f"tok-{self.calls}",
                "token_type": "Storage",
                "expires_in": 3600,
                "extra_data": {
                    "key": "AKEY",
                    "secret": "ASECRET",
                    "endpoint": self.endpoint,
                    "paths": {"root": f"polarisfs://{BUCKET}/dataset/o/n/table.parquet"},
                },
            }
        )


def unique(prefix: str) -> str:
    return f"polarisfs://{BUCKET}/{prefix}/{time.monotonic_ns()}"


def make_zarr(path: Path, n_chunks: int = 24) -> None:
    group = zarr.open_group(path, mode="w", zarr_format=2)
    array = group.create_array("values", shape=(n_chunks * 8,), chunks=(8,), dtype="i8")
    array[:] = np.arange(n_chunks * 8)


def manifest_of(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


def uploaded_manifest(root: Path, staging: Path) -> dict[str, str]:
    """What an upload of ``root`` sends: its files plus consolidated metadata built in a staging folder."""
    return {e.path: e.md5sum for e in stage_zarr(root, staging).entries()}


def object_puts(proxy: FaultProxy, store_url: str, status: int = 200) -> list[Seen]:
    prefix = "/" + BUCKET + "/" + parse_url(store_url).key + "/"
    return [s for s in proxy.requests("PUT", status) if s.path.startswith(prefix)]


# --- protocol details seen on the wire -----------------------------------------------------------------------------
def test_every_put_and_part_carries_a_valid_content_md5(proxy: FaultProxy, tmp_path: Path) -> None:
    provider = CountingProvider(proxy.url)
    with StorageSession(provider, progress=False) as session:
        session.upload_file(unique("md5") + "/small.parquet", b"x" * 1000)
        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(PART_SIZE + 100))
        session.upload_file(unique("md5") + "/big.bin", big)
    puts = proxy.requests("PUT")
    assert len(puts) == 3  # one PUT + two parts
    assert all("content-md5" in s.headers for s in puts)
    assert all(s.status == 200 for s in puts)  # the proxy checks Content-MD5 against the body like S3
    assert all(s.headers["x-amz-security-token"] == "jwt/tok-1" for s in proxy.log)
    assert all(s.path.startswith(f"/{BUCKET}/") for s in proxy.log)  # path-style addressing
    created = [s for s in proxy.requests("POST") if s.path.endswith("?uploads")]
    assert len(created) == 1 and created[0].headers["x-amz-meta-md5sum"]
    assert "x-amz-checksum-crc32" not in " ".join(" ".join(s.headers) for s in proxy.log)


def test_consolidated_metadata_goes_first(proxy: FaultProxy, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 4)
    store = unique("order")
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_zarr(local, store)
    puts = object_puts(proxy, store)
    assert puts[0].path.endswith("/.zmetadata")
    assert len(puts) == len(uploaded_manifest(local, tmp_path / "staging"))


# --- retries -------------------------------------------------------------------------------------------------------
def test_get_retried_after_injected_503s(proxy: FaultProxy, tmp_path: Path) -> None:
    url = unique("retry") + "/table.parquet"
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(url, b"payload")
        proxy.faults.append(Fault("status", 503, "SlowDown", match=lambda m, p: m == "GET", times=3))
        dest = session.download_file(url, tmp_path / "t.parquet", expected_md5=hashlib.md5(b"payload").hexdigest())
    assert dest.read_bytes() == b"payload"
    gets = proxy.requests("GET")
    assert [s.status for s in gets] == [503, 503, 503, 200]


def test_put_honours_retry_after(proxy: FaultProxy) -> None:
    url = unique("retry-after") + "/t.parquet"
    proxy.faults.append(Fault("status", 503, "SlowDown", headers={"Retry-After": "1"}, match=lambda m, p: m == "PUT"))
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        start = time.monotonic()
        session.upload_file(url, b"payload")
        elapsed = time.monotonic() - start
        assert session.read_bytes(url) == b"payload"
    assert elapsed >= 1.0
    assert [s.status for s in proxy.requests("PUT")] == [503, 200]


def test_429_is_retried(proxy: FaultProxy) -> None:
    url = unique("429") + "/t.parquet"
    proxy.faults.append(Fault("status", 429, "TooManyRequests", match=lambda m, p: m == "PUT", times=2))
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(url, b"payload")
        assert session.read_bytes(url) == b"payload"


def test_retries_are_bounded(proxy: FaultProxy, tmp_path: Path) -> None:
    url = unique("bounded") + "/t.parquet"
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(url, b"payload")
        proxy.faults.append(Fault("status", 500, "InternalError", match=lambda m, p: m == "GET", times=100))
        with pytest.raises(StorageError, match=r"InternalError|500"):
            session.download_file(url, tmp_path / "t")
    assert len(proxy.requests("GET")) == 5  # 1 + MAX_RETRIES
    assert not (tmp_path / "t").exists() and not (tmp_path / "t.incomplete").exists()


def test_dropped_connection_and_truncated_body_are_retried(proxy: FaultProxy, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 8)
    store = unique("drops")
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        proxy.faults.append(Fault("drop", match=lambda m, p: m == "PUT", times=2))
        session.upload_zarr(local, store)
        manifest = uploaded_manifest(local, tmp_path / "staging")
        proxy.faults.append(Fault("drop", match=lambda m, p: m == "GET" and "values" in p, times=2))
        proxy.faults.append(Fault("truncate", match=lambda m, p: m == "GET" and "values" in p, times=2))
        out = session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest)
    assert manifest_of(out) == manifest
    assert proxy.faults == []  # every fault was hit


# --- token renewal -------------------------------------------------------------------------------------------------
def test_expired_token_mid_download_is_renewed_once(proxy: FaultProxy, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 12)
    store = unique("expired")
    provider = CountingProvider(proxy.url)
    with StorageSession(provider, max_workers=1, progress=False) as session:
        session.upload_zarr(local, store)
        manifest = uploaded_manifest(local, tmp_path / "staging")
        proxy.log.clear()
        proxy.faults.append(Fault("status", 400, "ExpiredToken", match=lambda m, p: m == "GET" and "values/5" in p))
        out = session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest)
    assert manifest_of(out) == manifest
    assert provider.calls == 2
    tokens = [s.headers["x-amz-security-token"] for s in proxy.log]
    assert tokens[0] == "jwt/tok-1" and tokens[-1] == "jwt/tok-2"
    rejected = next(i for i, s in enumerate(proxy.log) if s.status == 400)
    assert proxy.log[rejected + 1].path == proxy.log[rejected].path  # the same request, retried
    assert proxy.log[rejected + 1].headers["x-amz-security-token"] == "jwt/tok-2"


def test_expired_token_on_upload_is_renewed(proxy: FaultProxy) -> None:
    provider = CountingProvider(proxy.url)
    url = unique("expired-put") + "/t.parquet"
    proxy.faults.append(Fault("status", 400, "ExpiredToken", match=lambda m, p: m == "PUT"))
    with StorageSession(provider, progress=False) as session:
        session.upload_file(url, b"payload")
        assert session.read_bytes(url) == b"payload"
    assert provider.calls == 2


def test_access_denied_after_renewal_gives_up(proxy: FaultProxy, tmp_path: Path) -> None:
    provider = CountingProvider(proxy.url)
    proxy.faults.append(Fault("status", 403, "AccessDenied", match=lambda m, p: m == "GET", times=10))
    with StorageSession(provider, progress=False) as session, pytest.raises(StorageError) as info:
        session.download_file(unique("denied") + "/t.parquet", tmp_path / "t")
    assert provider.calls == 2
    assert len(proxy.requests("GET")) == 2
    assert "tok-" not in str(info.value)


# --- concurrency ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("limit", [1, 3])
def test_in_flight_requests_never_exceed_the_limit(proxy: FaultProxy, tmp_path: Path, limit: int) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 24)
    store = unique("bounded")
    proxy.delay = 0.03
    with StorageSession(CountingProvider(proxy.url), max_workers=limit, progress=False) as session:
        session.upload_zarr(local, store)
        up_peak = proxy.max_in_flight
        # The proxy decrements its counter after the answer is sent: let the last upload finish counting.
        deadline = time.monotonic() + 5
        while proxy.in_flight and time.monotonic() < deadline:
            time.sleep(0.01)
        with proxy._lock:
            proxy.max_in_flight = 0
        session.download_zarr(store, tmp_path / "copy.zarr")
        down_peak = proxy.max_in_flight
    assert up_peak == limit  # reached (the pool is used) but never exceeded
    assert down_peak == limit


# --- interrupted uploads -------------------------------------------------------------------------------------------
def test_interrupted_upload_then_skip_sends_only_the_rest(proxy: FaultProxy, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 20)
    store = unique("resume")
    doomed = {"values/3", "values/7", "values/11"}
    proxy.faults.append(
        Fault(
            "status",
            500,
            "InternalError",
            match=lambda m, p: m == "PUT" and any(p.endswith(d) for d in doomed),
            times=10_000,
        )
    )
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        with pytest.raises(PartialUploadError) as info:
            session.upload_zarr(local, store)
        total = len(uploaded_manifest(local, tmp_path / "staging"))
        assert (info.value.done, info.value.failed) == (total - 3, 3)
        assert sorted(info.value.missing) == sorted(doomed)
        assert 'if_exists="skip"' in str(info.value)
        assert len(object_puts(proxy, store)) == total - 3  # the others kept going
        proxy.reset()
        report = session.upload_zarr(local, store, if_exists="skip")
        assert (report.uploaded, report.skipped) == (3, total - 3)
        sent = {s.path.rsplit("/", 2)[-2] + "/" + s.path.rsplit("/", 1)[-1] for s in object_puts(proxy, store)}
        assert sent == doomed
        expected = uploaded_manifest(local, tmp_path / "staging2")
        out = session.download_zarr(store, tmp_path / "copy.zarr", manifest=expected)
    assert manifest_of(out) == expected


def test_corrupted_body_on_the_wire_is_caught(proxy: FaultProxy, tmp_path: Path, moto_port: int) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 4)
    store = unique("corrupt")
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_zarr(local, store)
        manifest = uploaded_manifest(local, tmp_path / "staging")
        loc = parse_url(store)
        boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{moto_port}",
            aws_access_key_id="a",
            aws_secret_access_key="b",
            region_name="us-east-1",
        ).put_object(Bucket=BUCKET, Key=f"{loc.key}/values/2", Body=b"\x00" * 10)
        with pytest.raises(PolarisChecksumError) as info:
            session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest, artifact="o/n")
    assert info.value.chunk == "values/2"
    assert not (tmp_path / "copy.zarr").exists() and not (tmp_path / "copy.zarr.incomplete").exists()


# --- reads into memory (lazy chunks, load_to_memory): one buffer per object, md5 computed while it streams ---------
MiB = 1024 * 1024
EDGE_SIZES = {"empty": 0, "one-byte": 1, "one-mib-plus-one": MiB + 1, "sixteen-mib": 16 * MiB}


def _moto(moto_port: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{moto_port}",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        region_name="us-east-1",
    )


def _lazy_store(proxy: FaultProxy, store_url: str, manifest: dict[str, str], **options: Any) -> Any:
    from polaris.hub.storage.lazy import HubZarrStore

    return HubZarrStore(CountingProvider(proxy.url), store_url, manifest=manifest, artifact="o/n", **options)


@pytest.mark.parametrize("preallocate", [None, 256 * 1024], ids=["default", "growing-buffer"])
def test_reads_into_memory_are_exact_at_edge_sizes(
    proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch, preallocate: int | None
) -> None:
    import polaris.hub.storage.reader as reader_module

    if preallocate is not None:  # objects larger than what is reserved up front grow their buffer as bytes arrive
        monkeypatch.setattr(reader_module, "PREALLOCATE_MAX", preallocate)
    store_url = unique("sizes")
    rng = np.random.default_rng(13)
    bodies = {name: rng.bytes(size) for name, size in EDGE_SIZES.items()}
    manifest = {name: hashlib.md5(body).hexdigest() for name, body in bodies.items()}
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        for name, body in bodies.items():
            session.upload_file(f"{store_url}/{name}", body)
        _, reader = session._get_reader()
        proxy.log.clear()
        for name, body in bodies.items():
            for hint in (None, 0, len(body)):  # no hint, a wrong one, the right one: the same bytes every time
                data, md5 = reader.read_hashed(parse_url(f"{store_url}/{name}"), size_hint=hint)
                assert md5 == manifest[name], (name, hint)
                assert data.readonly and data.nbytes == len(body) and data == body, (name, hint)
        assert len({s.headers.get("x-amz-security-token") for s in proxy.requests("GET")}) == 1
    store = _lazy_store(proxy, store_url, manifest)
    try:
        fetched = store.fetch_many(bodies)
        assert {name: bytes(data) for name, data in fetched.items()} == bodies
        assert store.stats.requests == len(bodies)
        assert store.stats.bytes == sum(EDGE_SIZES.values())
        assert sorted(store.stats.keys) == sorted(bodies)
    finally:
        store.close()


def test_lazy_read_cut_short_or_dropped_is_retried_and_counted_once(proxy: FaultProxy, tmp_path: Path) -> None:
    store_url = unique("cut-lazy")
    body = np.random.default_rng(1).bytes(3 * MiB)
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(f"{store_url}/obj", body)
    md5 = hashlib.md5(body).hexdigest()
    store = _lazy_store(proxy, store_url, {"obj": md5}, cache_dir=tmp_path / "chunks")
    proxy.log.clear()
    is_obj = lambda m, p: m == "GET" and p.endswith("/obj")  # noqa: E731
    proxy.faults.append(Fault("truncate", match=is_obj, times=2))  # Content-Length announced, half the body sent
    proxy.faults.append(Fault("drop", match=is_obj))
    try:
        data = store.fetch("obj")
    finally:
        store.close()
    assert data is not None and bytes(data) == body
    assert proxy.faults == [] and len(proxy.requests("GET")) == 4
    assert (store.stats.requests, store.stats.bytes, store.stats.keys) == (1, len(body), ["obj"])
    assert (tmp_path / "chunks" / md5[:2] / md5).read_bytes() == body  # verified, then kept


def test_lazy_read_cut_short_every_time_is_a_storage_error_and_nothing_kept(proxy: FaultProxy, tmp_path: Path) -> None:
    store_url = unique("cut-for-good")
    body = np.random.default_rng(2).bytes(MiB)
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(f"{store_url}/obj", body)
    store = _lazy_store(proxy, store_url, {"obj": hashlib.md5(body).hexdigest()}, cache_dir=tmp_path / "chunks")
    proxy.faults.append(Fault("truncate", match=lambda m, p: m == "GET" and p.endswith("/obj"), times=100))
    try:
        with pytest.raises(StorageError) as info:
            store.fetch("obj")
    finally:
        store.close()
    assert "IncompleteRead" in str(info.value) and info.value.hint == "Storage kept failing; try again later."
    assert len(proxy.requests("GET")) == 5  # 1 + the policy's retries
    assert store.stats.requests == 0 and store.stats.keys == []
    assert not [p for p in (tmp_path / "chunks").rglob("*") if p.is_file()]


def test_tampered_object_read_into_memory_is_refused_and_not_kept(
    proxy: FaultProxy, tmp_path: Path, moto_port: int
) -> None:
    store_url = unique("tampered-lazy")
    body = np.random.default_rng(3).bytes(2 * MiB + 7)
    tampered = body[:MiB] + bytes([body[MiB] ^ 1]) + body[MiB + 1 :]  # one bit flipped, same length
    with StorageSession(CountingProvider(proxy.url), progress=False) as session:
        session.upload_file(f"{store_url}/obj", body)
        session.upload_file(f"{store_url}/intact", body[:1000])
    _moto(moto_port).put_object(Bucket=BUCKET, Key=f"{parse_url(store_url).key}/obj", Body=tampered)
    manifest = {"obj": hashlib.md5(body).hexdigest(), "intact": hashlib.md5(body[:1000]).hexdigest()}
    store = _lazy_store(proxy, store_url, manifest, cache_dir=tmp_path / "chunks")
    try:
        with pytest.raises(PolarisChecksumError) as info:
            store.fetch("obj")
        with pytest.raises(PolarisChecksumError):
            store.fetch_many(["intact", "obj"], keep=True)
    finally:
        store.close()
    assert info.value.chunk == "obj" and info.value.artifact == "o/n"
    assert (info.value.expected, info.value.actual) == (manifest["obj"], hashlib.md5(tampered).hexdigest())
    kept = {p.name for p in (tmp_path / "chunks").rglob("*") if p.is_file()}
    assert kept == {manifest["intact"]}  # the intact object was kept, the tampered one never


# --- adaptive concurrency ------------------------------------------------------------------------------------------
def test_limit_grows_under_latency_backs_off_on_slowdown_and_every_chunk_is_verified(
    proxy: FaultProxy, tmp_path: Path
) -> None:
    """A 40 ms link: the limit climbs above its start; a burst of 503 SlowDown halves it; nothing is lost."""
    local = tmp_path / "data.zarr"
    make_zarr(local, 400)
    manifest = uploaded_manifest(local, tmp_path / "staging")
    store = unique("adaptive")
    proxy.delay = 0.04
    cap = 48
    with StorageSession(CountingProvider(proxy.url), max_workers=cap, progress=False) as session:
        limit = session.transport.limit
        start = limit.limit
        session.upload_zarr(local, store)
        grown = limit.peak_limit
        assert grown > start  # more in flight because throughput kept growing with it
        assert proxy.max_in_flight <= cap
        # the store starts throttling the downloads
        is_chunk_get = lambda method, path: method == "GET" and "/values/" in path  # noqa: E731
        proxy.faults.append(Fault("status", 503, "SlowDown", {"Retry-After": "0"}, match=is_chunk_get, times=30))
        before = limit.backoffs
        digests: dict[str, tuple[str, int]] = {}
        session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest, digests=digests)
        assert limit.backoffs > before  # SlowDown made it back off
        assert len(proxy.requests("GET", 503)) == 30  # every injected answer was met, and retried
        assert proxy.max_in_flight <= cap
    assert {name: md5 for name, (md5, _) in digests.items()} == manifest  # every chunk verified on the way in
    assert manifest_of(tmp_path / "copy.zarr") == manifest
