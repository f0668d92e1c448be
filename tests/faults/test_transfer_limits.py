"""Transfers under a slow, broken or hostile network, against small real HTTP servers on loopback.

* a slow but steady object completes (the read timeout is an idle timeout, not a deadline); a stalled one fails
  with a clear error;
* an interrupted download keeps its ``.incomplete`` part and is continued with a ranged GET, verified as a whole;
* storage never follows a redirect to another host (the session token would go with it);
* an endless JSON answer from the Hub is a typed error with bounded memory.
"""

from __future__ import annotations

import hashlib
import re
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from polaris.errors import ResponseTooLargeError, StorageError
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.storage import StorageSession, StorageToken
from polaris.hub.storage.constants import PREALLOCATE_MAX

pytestmark = pytest.mark.timeout(120)

SECRET = "jwt-that-must-stay-home"


@dataclass
class ObjectServer:
    """Serves one object at any path, honouring ``Range: bytes=N-``; knobs for slowness and cuts."""

    body: bytes
    block: int = 64 * 1024
    pause: float = 0.0  # seconds between blocks
    stall_after: int | None = None  # stop sending (keep the connection open) after this many bytes
    cut_responses: int = 0  # the next N responses send only half of what they announce, then close
    ranges: list[str | None] = field(default_factory=list)
    clients: set[tuple[str, int]] = field(default_factory=set)  # (host, port) of every connection that asked
    signatures: list[tuple[str, str]] = field(default_factory=list)  # (Authorization, x-amz-security-token)
    served: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        wanted = h.headers.get("Range")
        self.ranges.append(wanted)
        self.clients.add(h.client_address[:2])
        self.signatures.append((h.headers.get("Authorization", ""), h.headers.get("x-amz-security-token", "")))
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        if match:
            start = int(match.group(1))
        if start >= len(self.body) and match:
            h.send_response(416)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        part = self.body[start:]
        h.send_response(206 if match else 200)
        h.send_header("Content-Length", str(len(part)))
        h.send_header("ETag", '"' + hashlib.md5(self.body).hexdigest() + '"')
        if match:
            h.send_header("Content-Range", f"bytes {start}-{len(self.body) - 1}/{len(self.body)}")
        h.end_headers()
        limit = len(part)
        if self.cut_responses > 0:
            self.cut_responses -= 1
            limit = len(part) // 2
        sent = 0
        while sent < limit:
            if self.stall_after is not None and self.served >= self.stall_after:
                self.stop.wait(30)
                return
            chunk = part[sent : min(limit, sent + self.block)]
            self.served += len(chunk)  # counted before it leaves: the client may finish before this thread resumes
            h.wfile.write(chunk)
            h.wfile.flush()
            sent += len(chunk)
            if self.pause:
                time.sleep(self.pause)
        if limit < len(part):
            h.close_connection = True


@pytest.fixture
def object_server() -> Iterator[Callable[..., tuple[ObjectServer, str]]]:
    servers: list[ObjectServer] = []

    def make(body: bytes, **options: Any) -> tuple[ObjectServer, str]:
        server = ObjectServer(body, **options)
        servers.append(server)
        return server, server.start()

    yield make
    for server in servers:
        server.close()


def _session(endpoint: str, **options: Any) -> StorageSession:
    token = StorageToken(access_token=SECRET, key="k", secret="s", endpoint=endpoint, paths={"root": "s3://b/x"})
    return StorageSession(lambda: token, progress=False, **options)


# ---------------------------------------------------------------------------------------------- keep-alive
def test_gets_are_signed_and_reuse_one_kept_alive_connection(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    body = b"chunk" * 100
    server, endpoint = object_server(body)
    with _session(endpoint) as session:
        for i in range(20):
            assert session.read_bytes(f"s3://b/x/{i}") == body
        session.download_file("s3://b/x/file", tmp_path / "file", expected_md5=hashlib.md5(body).hexdigest())
    assert (tmp_path / "file").read_bytes() == body
    assert len(server.signatures) == 21
    assert len(server.clients) == 1  # one connection, kept alive, for all 21 sequential GETs
    for authorization, session_token in server.signatures:
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=k/"), authorization
        assert session_token.endswith(SECRET)  # the token goes to the endpoint the Hub named, and only there


# ---------------------------------------------------------------------------------------------- timeouts
def test_slow_but_steady_object_completes_past_the_read_timeout(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    body = bytes(range(256)) * 256  # 64 KiB in 16 blocks, one every 0.2 s: 3.2 s with a 0.8 s idle timeout
    _, endpoint = object_server(body, block=4096, pause=0.2)
    started = time.monotonic()
    with _session(endpoint, timeout=(2, 0.8)) as session:
        out = session.download_file("s3://b/obj", tmp_path / "obj", expected_md5=hashlib.md5(body).hexdigest())
    assert time.monotonic() - started > 3 * 0.8  # several read timeouts long (15 pauses of 0.2 s), and still fine
    assert out.read_bytes() == body


def test_stalled_object_fails_with_a_timeout_hint(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    from polaris.hub import retry

    _, endpoint = object_server(b"x" * 100_000, block=10_000, stall_after=20_000)
    with (
        _session(endpoint, timeout=(2, 0.5), retry_policy=retry.RetryPolicy(max_attempts=2, backoff_base=0.01)) as s,
        pytest.raises(StorageError) as err,
    ):
        s.download_file("s3://b/obj", tmp_path / "obj")
    assert "timeout" in (err.value.hint or "") and "0.5 s without a byte" in (err.value.hint or "")


# ---------------------------------------------------------------------------------------------- resumable downloads
def test_cut_download_is_continued_with_a_ranged_get(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    body = hashlib.sha256(b"seed").digest() * 32_768  # 1 MiB
    server, endpoint = object_server(body, cut_responses=1)
    with _session(endpoint) as session:
        session.download_file("s3://b/obj", tmp_path / "obj", expected_md5=hashlib.md5(body).hexdigest())
    assert (tmp_path / "obj").read_bytes() == body
    assert server.ranges == [None, f"bytes={len(body) // 2}-"]
    assert server.served == len(body)  # nothing fetched twice


def test_download_interrupted_for_good_resumes_in_a_later_call(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    body = hashlib.sha256(b"more").digest() * 65_536  # 2 MiB
    policy_attempts = 5  # every try of the first call is cut (the default policy tries 5 times)
    server, endpoint = object_server(body, cut_responses=policy_attempts)
    md5 = hashlib.md5(body).hexdigest()
    part = tmp_path / "obj.incomplete"
    with _session(endpoint) as session, pytest.raises(StorageError):
        session.download_file("s3://b/obj", tmp_path / "obj", expected_md5=md5)
    kept = part.stat().st_size
    assert 0 < kept < len(body) and not (tmp_path / "obj").exists()
    assert body.startswith(part.read_bytes())
    with _session(endpoint) as session:
        session.download_file("s3://b/obj", tmp_path / "obj", expected_md5=md5)
    assert (tmp_path / "obj").read_bytes() == body and not part.exists()
    assert server.ranges[-1] == f"bytes={kept}-"
    assert server.served == len(body)


def test_a_corrupt_partial_copy_is_detected_as_a_whole(
    object_server: Callable[..., tuple[ObjectServer, str]], tmp_path: Path
) -> None:
    from polaris.errors import PolarisChecksumError

    body = b"abcdefgh" * 10_000
    _, endpoint = object_server(body)
    (tmp_path / "obj.incomplete").write_bytes(b"X" * 1000)  # not a prefix of the object
    with _session(endpoint) as session, pytest.raises(PolarisChecksumError):
        session.download_file("s3://b/obj", tmp_path / "obj", expected_md5=hashlib.md5(body).hexdigest())
    assert not (tmp_path / "obj.incomplete").exists() and not (tmp_path / "obj").exists()


# ---------------------------------------------------------------------------------------------- redirects
@pytest.fixture
def hostile() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An endpoint that answers every request with 307 to another 127.0.0.1 port, and what that port received."""
    received: list[dict[str, str]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            received.append({k.lower(): v for k, v in self.headers.items()})
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("ETag", '"' + "0" * 32 + '"')
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_PUT = do_HEAD = do_POST = _any

    other = ThreadingHTTPServer(("127.0.0.1", 0), Elsewhere)
    other_port = other.server_address[1]

    class Redirector(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{other_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_HEAD = do_POST = _any

    redirector = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    for server in (other, redirector):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{redirector.server_address[1]}", received
    for server in (other, redirector):
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("operation", ["download", "read", "head", "list", "upload", "upload-file", "multipart"])
def test_storage_never_follows_a_redirect_to_another_host(
    hostile: tuple[str, list[dict[str, str]]], tmp_path: Path, operation: str
) -> None:
    endpoint, received = hostile
    with _session(endpoint) as session, pytest.raises(StorageError) as err:
        if operation == "download":
            session.download_file("s3://b/obj", tmp_path / "obj")
        elif operation == "read":
            session.read_bytes("s3://b/obj")
        elif operation == "head":
            session.exists("s3://b/obj")
        elif operation == "list":
            session.list_objects("s3://b/prefix")
        elif operation == "upload":
            session.upload_file("s3://b/obj", b"payload")
        elif operation == "upload-file":  # a single PUT streamed from a file (above READ_WHOLE_MAX)
            big = tmp_path / "big.bin"
            big.write_bytes(b"y" * (2 * 1024 * 1024))
            session.upload_file("s3://b/obj", big)
        else:
            session.upload_file("s3://b/big", b"x" * (10 * 1024 * 1024 + 1))
    assert "redirect" in str(err.value)
    assert received == []  # the other port never heard from us, so it never saw the token
    assert SECRET not in str(err.value)


# ---------------------------------------------------------------------------------------------- endless JSON
def test_endless_json_answer_is_a_typed_error_with_bounded_memory() -> None:
    stop = threading.Event()

    class Endless(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = b'{"name": "' + b"x" * 65_000 + b'"},'
            try:
                self.wfile.write(b"1\r\n[\r\n")
                while not stop.is_set():
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except OSError:
                return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        settings = PolarisHubSettings(hub_url=url, api_url=url + "api")
        with PolarisHubClient(settings, cache_auth_token=False) as client:
            started = time.monotonic()
            with pytest.raises(ResponseTooLargeError) as err:  # anonymous, through the client's transport
                client.request("GET", url + "api/v1/dataset", withhold_token=True)
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        assert time.monotonic() - started < 30
        assert "larger than" in str(err.value)
        assert grown_mib < 400, f"memory grew by {grown_mib:.0f} MiB"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------------------------------- reads into memory
@dataclass
class Announcer:
    """Answers every GET with ``body`` under a chosen ``Content-Length`` (or none: the body ends when it closes)."""

    body: bytes
    announce: int | None
    gets: int = 0

    def start(self) -> str:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.gets += 1
                self.send_response(200)
                if outer.announce is not None:
                    self.send_header("Content-Length", str(outer.announce))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(outer.body)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _lazy(endpoint: str, manifest: dict[str, str], **options: Any) -> Any:
    from polaris.hub.storage.lazy import HubZarrStore

    token = StorageToken(access_token=SECRET, key="k", secret="s", endpoint=endpoint, paths={"root": "s3://b/x"})
    session = StorageSession(lambda: token, progress=False, **options)
    return HubZarrStore(lambda: token, "s3://b/x", manifest=manifest, session=session)


def test_a_length_beyond_the_ceiling_is_refused_before_anything_is_reserved() -> None:
    from polaris.errors import DeclaredSizeError
    from polaris.hub import retry
    from polaris.limits import DEFAULT_MAX_DECLARED_BYTES

    server = Announcer(b"x" * 1000, announce=1 << 40)  # "1 TiB follows", then 1000 bytes and the connection closes
    endpoint = server.start()
    store = _lazy(
        endpoint,
        {"obj": hashlib.md5(b"x" * 1000).hexdigest()},
        retry_policy=retry.RetryPolicy(max_attempts=3, backoff_base=0.01),
    )
    try:
        with pytest.raises(DeclaredSizeError) as err:  # refused on the announcement: no buffer, no retry
            store.fetch("obj")
    finally:
        store.close()
        server.close()
    assert err.value.declared == 1 << 40 and err.value.limit == DEFAULT_MAX_DECLARED_BYTES
    assert server.gets == 1


def test_a_huge_announced_length_reserves_no_memory_and_the_short_body_is_retried() -> None:
    from polaris.hub import retry

    server = Announcer(b"x" * 1000, announce=1 << 30)  # "1 GiB follows", then 1000 bytes and the connection closes
    endpoint = server.start()
    store = _lazy(
        endpoint,
        {"obj": hashlib.md5(b"x" * 1000).hexdigest()},
        retry_policy=retry.RetryPolicy(max_attempts=3, backoff_base=0.01),
    )
    try:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        with pytest.raises(StorageError) as err:  # the cut body, not a MemoryError: no 1 TiB reserved up front
            store.fetch("obj")
        grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    finally:
        store.close()
        server.close()
    assert "IncompleteRead" in str(err.value)
    assert server.gets == 3  # cut short each time: transient, retried up to the policy's limit
    assert store.stats.requests == 0
    # at most one capped preallocation at a time (the attempts run one after the other), nothing near 1 TiB
    assert grown_mib < PREALLOCATE_MAX / 2**20 + 32, f"memory grew by {grown_mib:.0f} MiB"


def test_a_body_without_length_is_read_to_its_end_into_a_growing_buffer() -> None:
    body = hashlib.sha256(b"close-delimited").digest() * (100 * 1024 + 1)  # 3.1 MiB, more than the first buffer
    server = Announcer(body, announce=None)
    endpoint = server.start()
    store = _lazy(endpoint, {"obj": hashlib.md5(body).hexdigest()})
    try:
        data = store.fetch("obj")
    finally:
        store.close()
        server.close()
    assert data is not None and bytes(data) == body
    assert server.gets == 1 and store.stats.bytes == len(body)
