"""S3 gateway of the local Hub: checks the storage token on every request, then forwards it to moto.

Real object storage (Cloudflare R2 behind the Polaris Hub) checks credentials on every request; moto checks none.
This gateway sits in front of moto on its own loopback port and, for each request:

* reads the session token (``x-amz-security-token`` header, or the ``X-Amz-Security-Token`` query parameter of a
  presigned URL); it must be ``jwt/<storage token>`` issued by this emulator (signature and expiry checked with the
  emulator's key). Missing or invalid -> ``403 AccessDenied``; expired -> ``400 ExpiredToken``;
* checks that the bucket/key (or a listing's ``prefix``, or a copy's ``x-amz-copy-source``) lies inside one of the
  token's prefixes (``dataset/<owner>/<slug>/...``), else ``403 AccessDenied``;
* checks the method against the token's scope: ``read`` allows GET/HEAD (and listings), ``write`` also PUT/POST and
  aborting a multipart upload (``DELETE ?uploadId=``); anything else -> ``403 AccessDenied``;
* answers ``501 NotImplemented`` for an S3 operation outside the protocol the Hub's clients use (e.g. ``POST ?delete``,
  ``?acl``, ``?tagging``, bucket-level operations other than listings), without reaching moto;
* checks a request body against its ``Content-MD5`` header, as S3 and R2 do (moto does not): malformed ->
  ``400 InvalidDigest``; a body that differs -> ``400 BadDigest``, and moto never receives the body's last bytes,
  so nothing is stored;
* forwards the request to moto unchanged (except hop-by-hop headers and ``Host``), streaming both bodies in chunks
  (when moto runs in the same process, by calling its WSGI app directly: :mod:`polaris.emulator.wsgi_link`);
* with a durable store (``sink``), a write that creates an object (PutObject, CopyObject, CompleteMultipartUpload)
  holds the key's lock while moto stores it, has the sink put it on disk, and only then relays moto's answer: an
  acknowledged object survives a crash. If the disk write fails the client gets ``503`` (and may retry).

Signatures are not verified (as before, moto would not either): authorisation rests on the ``jwt/...`` session token.
Connections are served by at most ``MAX_CONNECTIONS`` threads; every socket has a timeout.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import http.client
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from polaris.emulator.tokens import STORAGE_TOKEN_TYPE, TokenError, TokenExpiredError, TokenSigner
from polaris.emulator.wsgi_link import InProcessConnection, InProcessResponse, WsgiApp

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 128
"""Client connections served at once (one thread each); further connections wait ``SLOT_WAIT_SECONDS``."""
SLOT_WAIT_SECONDS = 0.5
"""How long a new connection waits for a free thread before it is answered ``503 SlowDown``."""
CLIENT_TIMEOUT_SECONDS = 15.0
"""Socket timeout towards clients: idle keep-alive connections and stalled bodies are dropped after this."""
UPSTREAM_TIMEOUT_SECONDS = 60.0
"""Socket timeout towards moto (connect and each read)."""
REFUSE_TIMEOUT_SECONDS = 1.0
"""Socket timeout while answering a connection that found no free thread."""
STOP_JOIN_SECONDS = 2.0
"""Total time :meth:`StorageGateway.stop` waits for handler threads after closing their sockets."""
CHUNK_SIZE = 256 * 1024
"""Bytes moved per read when streaming request and response bodies."""
SESSION_TOKEN_PREFIX = "jwt/"
TOKEN_HEADER = "x-amz-security-token"
COPY_SOURCE_HEADER = "x-amz-copy-source"

# RFC 9110 hop-by-hop headers plus Expect (the gateway answers 100-continue itself) and Host (set for moto).
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "expect", "host"}
)  # fmt: skip
_READ_METHODS = frozenset({"GET", "HEAD"})
_WRITE_METHODS = frozenset({"GET", "HEAD", "PUT", "POST"})
# Query parameters a bucket-level GET may carry to be a plain object listing (ListObjects / ListObjectsV2).
_LIST_PARAMS = frozenset(
    {"list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after", "fetch-owner",
     "encoding-type", "marker", "x-id"}
)  # fmt: skip
_RESPONSE_PARAMS = frozenset(
    {"response-cache-control", "response-content-disposition", "response-content-encoding",
     "response-content-language", "response-content-type", "response-expires"}
)  # fmt: skip
# Query parameters (lower-case) each key-level operation of the protocol may carry; anything else is not implemented.
_KEY_PARAMS = {
    "GET": frozenset({"partnumber", "versionid", "uploadid", "max-parts", "part-number-marker"}) | _RESPONSE_PARAMS,
    "HEAD": frozenset({"partnumber", "versionid"}) | _RESPONSE_PARAMS,
    "PUT": frozenset({"partnumber", "uploadid"}),
    "POST": frozenset({"uploads", "uploadid"}),
    "DELETE": frozenset({"uploadid"}),
}
_PRESIGN_PARAMS = frozenset(
    {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-expires", "x-amz-signedheaders", "x-amz-signature",
     "x-amz-security-token"}
)  # fmt: skip


class S3Refusal(Exception):
    """A request the gateway answers itself with an S3 XML error."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _denied(message: str) -> S3Refusal:
    return S3Refusal(403, "AccessDenied", message)


@dataclass(frozen=True)
class Grant:
    """What a verified storage token allows."""

    user: str
    resource: str
    scope: str
    prefixes: tuple[str, ...]

    def covers_key(self, key: str) -> bool:
        """The key is inside one of the prefixes (``<prefix>/...``) and has no ``.``/``..`` segments."""
        if any(part in (".", "..") for part in key.split("/")):
            return False
        return any(key.startswith(p.rstrip("/") + "/") for p in self.prefixes)

    def covers_listing(self, prefix: str) -> bool:
        """A listing prefix stays inside one of the prefixes (``<prefix>/`` or deeper)."""
        return self.covers_key(prefix) or any(prefix == p.rstrip("/") + "/" for p in self.prefixes)


def verify_session_token(signer: TokenSigner, session_token: str | None) -> Grant:
    """Check an S3 session token ``jwt/<storage token>``.

    Raises:
        S3Refusal: ``403 AccessDenied`` when missing, malformed, badly signed or not a storage token;
            ``400 ExpiredToken`` when it is a genuine storage token past its expiry.
    """
    if not session_token:
        raise _denied("No session token: send 'x-amz-security-token: jwt/<storage token>' from the Hub.")
    if not session_token.startswith(SESSION_TOKEN_PREFIX):
        raise _denied("The session token must be 'jwt/<storage token>'.")
    try:
        claims = signer.decode(session_token[len(SESSION_TOKEN_PREFIX) :], STORAGE_TOKEN_TYPE)
    except TokenExpiredError:
        raise S3Refusal(400, "ExpiredToken", "The provided token has expired.") from None
    except TokenError:
        raise _denied("The session token is not a valid storage token of this Hub.") from None
    scope = claims.get("scope")
    prefixes = claims.get("prefixes")
    if (
        scope not in ("read", "write")
        or not isinstance(prefixes, list)
        or not all(isinstance(p, str) and p.strip("/") for p in prefixes)
    ):
        raise _denied("The storage token carries no usable scope or prefixes.")
    return Grant(
        user=str(claims.get("sub", "")),
        resource=str(claims.get("resource", "")),
        scope=str(scope),
        prefixes=tuple(p.strip("/") for p in prefixes),
    )


def authorize(grant: Grant, method: str, bucket: str, path: str, query: dict[str, list[str]],
              copy_source: str | None, expected_bucket: str) -> None:  # fmt: skip
    """Check one S3 request (path already split into bucket and percent-decoded key) against a grant.

    Raises:
        S3Refusal: ``403 AccessDenied`` for a bucket, key, listing or method the grant does not cover.
    """
    if not bucket or bucket != expected_bucket:
        raise _denied(f"The storage token does not cover bucket {bucket!r}.")
    allowed = _WRITE_METHODS if grant.scope == "write" else _READ_METHODS
    if not path:
        # bucket level: only object listings
        names = {k.lower() for k in query}
        if method != "GET" or not names <= _LIST_PARAMS | _PRESIGN_PARAMS:
            raise S3Refusal(501, "NotImplemented", "Only object listings are implemented at bucket level.")
        prefix = query.get("prefix", [""])[0]
        if not grant.covers_listing(prefix):
            raise _denied(f"Listing prefix {prefix!r} is outside {', '.join(grant.prefixes)}/.")
        return
    if not grant.covers_key(path):
        raise _denied(f"Key {path!r} is outside {', '.join(grant.prefixes)}/.")
    if method == "DELETE" and grant.scope == "write" and "uploadId" in query:
        return  # AbortMultipartUpload of an upload inside the prefix
    if method not in allowed:
        raise _denied(f"A {grant.scope} token does not allow {method}.")
    if copy_source is not None:
        source = unquote(copy_source.split("?", 1)[0]).lstrip("/")
        src_bucket, _, src_key = source.partition("/")
        if src_bucket != expected_bucket or not grant.covers_key(src_key):
            raise _denied(f"Copy source {source!r} is outside {', '.join(grant.prefixes)}/.")


def check_operation(method: str, key: str, query: dict[str, list[str]]) -> None:
    """Refuse, as not implemented, key-level operations outside the Hub's storage protocol.

    Raises:
        S3Refusal: ``501 NotImplemented`` naming the unsupported parameters.
    """
    names = {k.lower() for k in query} - _PRESIGN_PARAMS - {"x-id"}
    allowed = _KEY_PARAMS.get(method, frozenset())
    unsupported = sorted(names - allowed)
    if method == "POST" and len(names & {"uploads", "uploadid"}) != 1:
        unsupported = unsupported or ["(no ?uploads or ?uploadId)"]
    if unsupported:
        raise S3Refusal(
            501,
            "NotImplemented",
            f"{method} with {', '.join('?' + n for n in unsupported)} is not implemented by this storage "
            "(objects: GET, HEAD, PUT, copy, multipart uploads).",
        )


def creates_object(method: str, key: str, query: dict[str, list[str]]) -> bool:
    """PutObject / CopyObject (PUT without part parameters) or CompleteMultipartUpload (POST ?uploadId=)."""
    names = {k.lower() for k in query}
    if not key:
        return False
    if method == "PUT":
        return not names & {"partnumber", "uploadid"}
    return method == "POST" and "uploadid" in names


class WriteSink(Protocol):
    """Where the gateway makes acknowledged objects durable (the emulator's :class:`ObjectStore`)."""

    def key_lock(self, key: str) -> AbstractContextManager[None]: ...

    def stage(self) -> Any: ...

    def persist(
        self, key: str, staged: Any = None, etag: str | None = None, request_headers: dict[str, str] | None = None
    ) -> Any: ...


def error_body(code: str, message: str, resource: str, request_id: str) -> bytes:
    """An S3 XML ``<Error>`` document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()


def _content_md5(value: str | None) -> bytes | None:
    """The 16 bytes a ``Content-MD5`` header names (None without the header).

    Raises:
        S3Refusal: ``400 InvalidDigest`` when the header is not the base64 of 16 bytes.
    """
    if value is None:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise S3Refusal(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
    return raw


def _bad_digest() -> S3Refusal:
    return S3Refusal(400, "BadDigest", "The Content-MD5 you specified did not match what we received.")


class _UpstreamFailed(Exception):
    """moto could not be reached or broke off (answered to the client as 503)."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = CLIENT_TIMEOUT_SECONDS
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid the 40 ms delayed-ACK stall
    server: _GatewayServer

    def setup(self) -> None:
        super().setup()
        self._upstream: http.client.HTTPConnection | InProcessConnection | None = None
        self._response_started = False
        self._content_md5: bytes | None = None

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self._close_upstream()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def handle_expect_100(self) -> bool:
        # Answer "100 Continue" only once the request is authorised (see _handle), so refused uploads send no body.
        return True

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    # ------------------------------------------------------------------ request
    def _handle(self) -> None:
        request_id = secrets.token_hex(8).upper()
        self._response_started = False
        target = self.path
        if not target.startswith("/"):  # absolute form
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        raw_path, _, raw_query = target.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True)
        bucket, _, key = unquote(raw_path).lstrip("/").partition("/")
        try:
            length = self._body_length()
            token = self.headers.get(TOKEN_HEADER)
            if token is None:
                token = next((v[0] for k, v in query.items() if k.lower() == TOKEN_HEADER), None)
            grant = verify_session_token(self.server.signer, token)
            authorize(grant, self.command, bucket, key, query, self.headers.get(COPY_SOURCE_HEADER),
                      self.server.bucket)  # fmt: skip
            if key:
                check_operation(self.command, key, query)
            self._content_md5 = _content_md5(self.headers.get("Content-MD5"))
        except S3Refusal as refusal:
            log.info("S3 %s %s refused: %s", self.command, raw_path, refusal)
            self._send_error(refusal, raw_path, request_id)
            return
        if self.server.latency > 0:
            time.sleep(self.server.latency)  # --storage-latency-ms: a far-away object store's round trip
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        sink = self.server.sink
        try:
            if sink is not None and creates_object(self.command, key, query):
                with sink.key_lock(key):
                    self._forward_durable(target, length, key, sink, raw_path, request_id)
            else:
                self._forward(target, length)
        except S3Refusal as refusal:  # the body did not match its Content-MD5
            log.info("S3 %s %s refused: %s", self.command, raw_path, refusal)
            self._send_error(refusal, raw_path, request_id)
        except _UpstreamFailed as exc:
            log.warning("S3 %s %s: upstream failed (%s)", self.command, raw_path, exc)
            self.close_connection = True
            if not self._response_started:
                with contextlib.suppress(OSError):
                    self._send_error(S3Refusal(503, "ServiceUnavailable", "Storage backend unavailable."),
                                     raw_path, request_id)  # fmt: skip

    def _body_length(self) -> int:
        if self.headers.get("Transfer-Encoding"):
            raise S3Refusal(501, "NotImplemented", "Transfer-Encoding is not supported; send Content-Length.")
        value = self.headers.get("Content-Length")
        if value is None:
            if self.command == "PUT":
                raise S3Refusal(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
            return 0
        try:
            length = int(value)
        except ValueError:
            raise S3Refusal(400, "InvalidArgument", "Content-Length is not a number.") from None
        if length < 0:
            raise S3Refusal(400, "InvalidArgument", "Content-Length is negative.")
        return length

    def _send_error(self, refusal: S3Refusal, resource: str, request_id: str) -> None:
        body = b"" if self.command == "HEAD" else error_body(refusal.code, refusal.message, resource, request_id)
        # The request body (if any) was not read: the connection cannot carry another request.
        self.close_connection = True
        self.send_response(refusal.status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    # ------------------------------------------------------------------ forwarding
    def _connection(self) -> tuple[http.client.HTTPConnection | InProcessConnection, bool]:
        if self._upstream is not None:
            return self._upstream, True
        host, port = self.server.upstream
        if self.server.upstream_app is not None:
            self._upstream = InProcessConnection(self.server.upstream_app, host, port)
        else:
            self._upstream = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_SECONDS)
        return self._upstream, False

    def _close_upstream(self) -> None:
        if self._upstream is not None:
            self._upstream.close()
            self._upstream = None

    def _send_upstream(
        self, target: str, length: int, tee: Callable[[bytes], None] | None = None
    ) -> http.client.HTTPResponse | InProcessResponse:
        host, port = self.server.upstream
        for _ in range(2):
            digest = None if self._content_md5 is None else hashlib.md5()
            if digest is not None and length == 0 and digest.digest() != self._content_md5:
                raise _bad_digest()
            conn, reused = self._connection()
            sent_body = False
            try:
                conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", f"{host}:{port}")
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP and name.lower() not in self.server.upstream_header_names:
                        conn.putheader(name, value)
                for name, value in self.server.upstream_headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(CHUNK_SIZE, remaining))
                    if not chunk:
                        raise ConnectionError("client closed the connection mid-body")
                    sent_body = True
                    if digest is not None:
                        digest.update(chunk)
                        if len(chunk) == remaining and digest.digest() != self._content_md5:
                            self._close_upstream()  # moto never gets the last bytes: the object is not stored
                            raise _bad_digest()
                    if tee is not None:
                        tee(chunk)
                    conn.send(chunk)
                    remaining -= len(chunk)
                return conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                self._close_upstream()
                # A kept-alive connection moto closed meanwhile: retry once if no body byte was consumed.
                if reused and not sent_body:
                    continue
                raise _UpstreamFailed(f"{type(exc).__name__}: {exc}") from None
        raise _UpstreamFailed("no connection to the storage backend")

    def _forward_durable(
        self, target: str, length: int, key: str, sink: WriteSink, resource: str, request_id: str
    ) -> None:
        """Forward a write that creates an object; relay moto's answer only once the object is on disk.

        A plain PutObject body is copied to a staging file as it streams to moto (no read-back needed when its md5
        matches moto's ETag); copies, completed multipart uploads and aws-chunked bodies are read back from moto.
        """
        staged = None
        plain_put = (
            self.command == "PUT"
            and self.headers.get(COPY_SOURCE_HEADER) is None
            and "aws-chunked" not in self.headers.get("Content-Encoding", "")
            and not self.headers.get("x-amz-content-sha256", "").startswith("STREAMING-")
        )
        if plain_put:
            with contextlib.suppress(OSError):
                staged = sink.stage()
        try:
            response = self._send_upstream(target, length, tee=None if staged is None else staged.write)
            try:
                body = response.read()
            except (OSError, http.client.HTTPException) as exc:
                self._close_upstream()
                raise _UpstreamFailed(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            if staged is not None:
                staged.abort()
            raise
        if response.will_close:
            self._close_upstream()
        if not 200 <= response.status < 300 and staged is not None:
            staged.abort()
        if 200 <= response.status < 300:
            try:
                sink.persist(key, staged, response.getheader("ETag"), dict(self.headers.items()))
            except OSError as exc:
                log.error("S3 %s %s: the object could not be made durable (%s)", self.command, resource, exc)
                self._send_error(
                    S3Refusal(503, "ServiceUnavailable", "The object could not be stored durably; retry."),
                    resource,
                    request_id,
                )
                return
        self._response_started = True
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, target: str, length: int) -> None:
        response = self._send_upstream(target, length)
        try:
            no_body = self.command == "HEAD" or response.status in (204, 304) or 100 <= response.status < 200
            declared = response.getheader("Content-Length")
            chunked = not no_body and declared is None
            self._response_started = True
            self.send_response_only(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if no_body:
                response.read()  # empty; releases the upstream connection for reuse
                return
            while True:
                try:
                    chunk = response.read(CHUNK_SIZE)
                except (OSError, http.client.HTTPException) as exc:
                    raise _UpstreamFailed(f"{type(exc).__name__}: {exc}") from None
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            if response.will_close or not response.isclosed():
                self._close_upstream()  # moto closes it, or the body was not fully read: do not reuse


class _GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        signer: TokenSigner,
        upstream: tuple[str, int],
        bucket: str,
        sink: WriteSink | None = None,
        upstream_headers: dict[str, str] | None = None,
        upstream_app: WsgiApp | None = None,
        latency: float = 0.0,
    ) -> None:
        self.signer = signer
        self.upstream = upstream
        self.upstream_app = upstream_app
        self.latency = latency
        self.bucket = bucket
        self.sink = sink
        self.upstream_headers = dict(upstream_headers or {})
        self.upstream_header_names = frozenset(n.lower() for n in self.upstream_headers)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(timeout=SLOT_WAIT_SECONDS):
            self._refuse_busy(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            self.shutdown_request(request)
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)
            self._slots.release()

    def _refuse_busy(self, request: socket.socket) -> None:
        body = error_body("SlowDown", "Too many connections; reduce your request rate.", "/", "BUSY")
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(OSError):
            request.settimeout(REFUSE_TIMEOUT_SECONDS)
            request.sendall(head + body)
        self.shutdown_request(request)

    def close_open_connections(self) -> list[threading.Thread]:
        with self._open_lock:
            items = list(self._open.items())
        for sock, _ in items:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return [thread for _, thread in items]


class StorageGateway:
    """The token-checking S3 front of the emulator's moto server.

    Args:
        signer: the emulator's token signer (verifies storage tokens).
        upstream: moto's base URL, e.g. ``http://127.0.0.1:5000/``.
        bucket: the only bucket tokens can cover.
        host: loopback address to listen on (port picked by the OS).
        sink: makes created objects durable before they are acknowledged (None: moto's memory only).
        upstream_headers: added to every request forwarded to moto (the emulator's internal secret).
        upstream_app: moto's WSGI app, when moto runs in this process: requests are handed to it directly
            (:mod:`polaris.emulator.wsgi_link`) instead of over a loopback connection to ``upstream``.
        latency: seconds every authorised request waits before it is served (``--storage-latency-ms``), so a
            pipeline can be tried against the round-trip time of a remote object store.
    """

    def __init__(
        self,
        signer: TokenSigner,
        upstream: str,
        bucket: str,
        host: str = "127.0.0.1",
        *,
        sink: WriteSink | None = None,
        upstream_headers: dict[str, str] | None = None,
        upstream_app: WsgiApp | None = None,
        latency: float = 0.0,
    ) -> None:
        if latency < 0:
            raise ValueError("latency must be >= 0")
        parsed = urlsplit(upstream)
        if parsed.hostname is None or parsed.port is None:
            raise ValueError(f"upstream {upstream!r} needs a host and a port")
        self._signer = signer
        self._upstream = (parsed.hostname, parsed.port)
        self._bucket = bucket
        self._host = host
        self._sink = sink
        self._upstream_headers = dict(upstream_headers or {})
        self._upstream_app = upstream_app
        self._latency = latency
        self._server: _GatewayServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    def start(self) -> None:
        """Listen and serve in a background thread; sets :attr:`endpoint`.

        Raises:
            OSError: the port cannot be bound.
        """
        self._server = _GatewayServer(
            (self._host, 0),
            self._signer,
            self._upstream,
            self._bucket,
            self._sink,
            self._upstream_headers,
            self._upstream_app,
            self._latency,
        )
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        self.endpoint = f"http://{host_text}:{port}/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="s3-gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, close open client connections and wait (bounded) for handler threads."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=STOP_JOIN_SECONDS)
            self._thread = None
        threads = server.close_open_connections()
        for thread in threads:
            thread.join(timeout=STOP_JOIN_SECONDS / max(1, len(threads)))
