"""The gateway's link to moto inside one process: moto's WSGI app called directly instead of over loopback HTTP.

The gateway and moto run in the same process, so forwarding a request over a TCP connection to moto's werkzeug server
costs, per request, a connection (werkzeug always answers ``Connection: close``), a server thread, and two extra
copies of every body through the kernel, all on the one GIL the gateway also needs. :class:`InProcessConnection` has
the small part of ``http.client.HTTPConnection`` the gateway uses (``putrequest``/``putheader``/``endheaders``/
``send``/``getresponse``) and hands the request to the same WSGI app moto's server runs, with the environ werkzeug's
server would build for it (moto's own handling of underscores in ``x-amz-meta-*`` names included). moto still does
all of S3: the link only removes the loopback hop. moto's HTTP port stays up for the emulator's boto3 client and for
``--expose-direct-s3``.

Measured (2 cores, 1000 x 4 KiB GETs through the gateway with raw obstore threads): server CPU per GET 3.1 -> 1.6 ms.
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

__all__ = ["InProcessConnection", "InProcessResponse", "WsgiApp"]

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
SPOOL_MAX_BYTES = 8 * 1024 * 1024
"""A request body up to this size is held in memory on its way to moto; larger ones spill to a temporary file."""
PRESERVED_HEADER_NAMES_KEY = "moto.preserved_header_names"
"""Where moto's request handler records the original spelling of ``x-amz-meta-*`` names with underscores."""


def _latin1(text: str) -> str:
    """WSGI's "native string" of a URL part: the UTF-8 bytes, read as latin-1 (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def _environ_key(name: str) -> str:
    key = name.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


class InProcessResponse:
    """moto's answer, read like an ``http.client.HTTPResponse`` (status, headers, ``read``)."""

    will_close = False

    def __init__(self, status: str, headers: list[tuple[str, str]], body: Iterable[bytes], *, head: bool) -> None:
        code, _, reason = status.partition(" ")
        self.status = int(code)
        self.reason = reason
        self._headers = headers
        if not any(name.lower() == "date" for name, _ in headers):
            self._headers = [*headers, ("Date", email.utils.formatdate(usegmt=True))]
        self._source = body
        self._chunks: Iterator[bytes] = iter(() if head else body)
        self._pending = memoryview(b"")
        self._closed = False
        if head:
            self._finish()

    def getheader(self, name: str, default: str | None = None) -> str | None:
        found = [value for key, value in self._headers if key.lower() == name.lower()]
        return ", ".join(found) if found else default

    def getheaders(self) -> list[tuple[str, str]]:
        return list(self._headers)

    def isclosed(self) -> bool:
        return self._closed

    def read(self, amt: int | None = None) -> bytes | memoryview:
        """Up to ``amt`` bytes (all that is left without ``amt``); empty at the end. Slices are not copied."""
        if amt is None:
            rest = bytes(self._pending) + b"".join(self._chunks)
            self._pending = memoryview(b"")
            self._finish()
            return rest
        while not self._pending:
            try:
                self._pending = memoryview(next(self._chunks))
            except StopIteration:
                self._finish()
                return b""
        piece, self._pending = self._pending[:amt], self._pending[amt:]
        return piece

    def _finish(self) -> None:
        if not self._closed:
            self._closed = True
            close = getattr(self._source, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self._finish()


class InProcessConnection:
    """One request at a time to a WSGI app, spoken to like ``http.client.HTTPConnection``."""

    def __init__(self, app: WsgiApp, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._method = ""
        self._target = ""
        self._headers: list[tuple[str, str]] = []
        self._body: Any = None
        self._response: InProcessResponse | None = None

    def putrequest(self, method: str, target: str, **_: Any) -> None:
        self._discard()
        self._method = method
        self._target = target
        self._headers = []
        self._body = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES)  # noqa: SIM115 - closed by _discard

    def putheader(self, name: str, value: Any) -> None:
        self._headers.append((name, str(value)))

    def endheaders(self) -> None:
        """Nothing to flush: the request goes to the app in :meth:`getresponse`."""

    def send(self, data: bytes) -> None:
        if self._body is None:
            raise http.client.CannotSendRequest("no request started")
        self._body.write(data)

    def getresponse(self) -> InProcessResponse:
        """Run the app on the request; its exceptions become ``http.client.HTTPException`` (the gateway's 503)."""
        if self._body is None:
            raise http.client.ResponseNotReady("no request started")
        self._body.seek(0)
        environ = self._environ()
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[..., None]:
            started["status"], started["headers"] = status, list(headers)

            def write(_: bytes) -> None:
                raise http.client.HTTPException("the storage app used the WSGI write() callable")

            return write

        try:
            body = self._app(environ, start_response)
            if "status" not in started:  # a generator app calls start_response on its first item
                body = _prefetch(body)
        except Exception as exc:
            log.exception("the object store failed on %s %s", self._method, self._target.partition("?")[0])
            raise http.client.HTTPException(f"object store error: {type(exc).__name__}") from None
        if "status" not in started:
            raise http.client.HTTPException("the storage app answered without a status")
        self._response = InProcessResponse(started["status"], started["headers"], body, head=self._method == "HEAD")
        return self._response

    def _environ(self) -> dict[str, Any]:
        split = urlsplit(self._target)
        environ: dict[str, Any] = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": self._body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "REQUEST_METHOD": self._method,
            "SCRIPT_NAME": "",
            "PATH_INFO": _latin1(unquote(split.path)),
            "QUERY_STRING": _latin1(split.query),
            "REQUEST_URI": _latin1(self._target),
            "RAW_URI": _latin1(self._target),
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": 0,
            "SERVER_NAME": self._host,
            "SERVER_PORT": str(self._port),
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        dashed = {_environ_key(name) for name, _ in self._headers if "_" not in name}
        preserved: dict[str, str] = {}
        for name, raw in self._headers:
            value = raw.replace("\r\n", "")
            key = _environ_key(name)
            if "_" in name:
                # werkzeug drops such headers; moto keeps x-amz-meta-* ones under their own spelling
                if not name.lower().startswith("x-amz-meta-") or key in dashed:
                    continue
                preserved.setdefault(key, name)
            if key in environ and key.startswith("HTTP_"):
                value = f"{environ[key]},{value}"
            environ[key] = value
        environ[PRESERVED_HEADER_NAMES_KEY] = preserved
        return environ

    def _discard(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._discard()


def _prefetch(body: Iterable[bytes]) -> Iterable[bytes]:
    """Start a lazy app body (so it calls ``start_response``) and give back an iterable of all of it."""
    chunks = iter(body)
    first = next(chunks, None)

    def rest() -> Iterator[bytes]:
        try:
            if first is not None:
                yield first
            yield from chunks
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return rest()
