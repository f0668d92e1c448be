"""A fake hostile Hub on loopback, and a way to measure what a client process does with its answers.

:class:`HostileHub` stands in front of an honest local Hub (``polaris.testing.LocalHub``): every request is
forwarded to it unchanged, except that

* the JSON answer of a path matching a registered pattern is rewritten by a function (a compromised Hub lying
  about sizes, checksums and where the data is), and
* the paths registered with :meth:`HostileHub.serve` are answered by the hostile Hub itself (a bomb object), with
  the headers the test chooses: any content type, with or without ``Content-Length``, an endless body.

:func:`run_client` runs a client snippet in a child process under an address-space limit (so a bomb that gets
through fails fast instead of taking the machine down) and reports the exception it ended with and its peak RSS,
read from the kernel's accounting of that child alone (the child's own ``VmHWM``, else ``os.wait4``).

Imported by name (tests/security is on sys.path), as ``attack_helpers`` is.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: Address space a probe's child process may use (bytes): far above a client's needs, far below a bomb's.
CHILD_ADDRESS_SPACE = 6 * 1024**3
#: Seconds a probe's child process may run.
CHILD_TIMEOUT = 150.0
_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"})

Rewrite = Callable[[Any], Any]


@dataclass
class Served:
    """An answer the hostile Hub gives itself: a body (bytes, or a generator of blocks) and its headers."""

    body: bytes | Callable[[], Iterator[bytes]]
    content_type: str = "application/octet-stream"
    length: bool = True  # send Content-Length (only for bytes bodies)
    status: int = 200


@dataclass
class HostileHub:
    """A loopback HTTP server forwarding to ``upstream`` (an honest local Hub's URL), with lies of its own."""

    upstream: str
    rewrites: list[tuple[re.Pattern[str], Rewrite]] = field(default_factory=list)
    served: dict[str, Served] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    def rewrite(self, path_pattern: str, fn: Rewrite) -> None:
        """Rewrite the JSON answer of every GET whose path matches ``path_pattern`` (``re.search``)."""
        self.rewrites.append((re.compile(path_pattern), fn))

    def serve(self, path: str, answer: Served) -> str:
        """Answer GET/HEAD ``path`` with ``answer``; returns the full URL of that path."""
        self.served[path] = answer
        return self.url.rstrip("/") + path

    # ------------------------------------------------------------------ server
    def start(self) -> HostileHub:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer._handle(self, "GET")

            def do_HEAD(self) -> None:
                outer._handle(self, "HEAD")

            def do_POST(self) -> None:
                outer._handle(self, "POST")

            def do_PUT(self) -> None:
                outer._handle(self, "PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = h.path
        self.requests.append(f"{method} {path}")
        own = self.served.get(path.split("?", 1)[0])
        if own is not None:
            self._answer(h, method, own)
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        target = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)
        try:
            headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            out_headers = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_HEADERS]
            if method == "GET" and answer.status == 200:
                for pattern, fn in self.rewrites:
                    if pattern.search(path.split("?", 1)[0]):
                        data = json.dumps(fn(json.loads(data))).encode()
        finally:
            conn.close()
        h.send_response(answer.status)
        for k, v in out_headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if method != "HEAD":
            h.wfile.write(data)

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, method: str, own: Served) -> None:
        h.send_response(own.status)
        h.send_header("Content-Type", own.content_type)
        if isinstance(own.body, bytes):
            if own.length:
                h.send_header("Content-Length", str(len(own.body)))
            else:
                h.close_connection = True  # the body ends when the connection does (no length, not chunked)
            h.end_headers()
            if method != "HEAD":
                h.wfile.write(own.body)
            return
        h.close_connection = True
        h.end_headers()
        if method == "HEAD":
            return
        try:
            for block in own.body():
                h.wfile.write(block)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: what a limit looks like
            return


def endless(block: bytes = b"\x3a\x30\x00\x00" * 16384) -> Callable[[], Iterator[bytes]]:
    """A body that never ends (bounded only by the client hanging up), in 64 KiB blocks."""

    def gen() -> Iterator[bytes]:
        for _ in range(1_000_000):  # 64 GB at most: the loop stays bounded even if nobody stops it
            yield block

    return gen


# ---------------------------------------------------------------------------------------------- child processes
@dataclass
class ProbeResult:
    """How a client snippet run in a child process ended."""

    error: str | None  # exception class name, None when it returned
    message: str
    fields: dict[str, Any]  # the DeclaredSizeError's field/declared/limit, when that is what it raised
    peak_rss: int  # bytes, from the kernel's accounting of this child alone
    returncode: int
    output: str

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss / 1024**2


_RUNNER = """
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
out = {{"error": None, "message": "", "fields": {{}}}}
try:
{code}
except BaseException as exc:
    out["error"] = type(exc).__name__
    out["message"] = str(exc)[:2000]
    out["fields"] = {{k: getattr(exc, k) for k in ("field", "declared", "limit", "reason") if hasattr(exc, k)}}
    traceback.print_exc()
with open("/proc/self/status") as status:  # VmHWM: this process's peak RSS since its exec (kB)
    out["vmhwm"] = next((int(l.split()[1]) for l in status if l.startswith("VmHWM:")), None)
print("PROBE-RESULT " + json.dumps(out, default=str), flush=True)
"""


def run_client(code: str, *, env: dict[str, str] | None = None, limit: int = CHILD_ADDRESS_SPACE) -> ProbeResult:
    """Run ``code`` (statements; ``polaris`` importable) in a child process and report how it ended.

    The child runs under ``RLIMIT_AS = limit``: a bomb that gets through ends in ``MemoryError`` (or a kill), not
    in swapping the machine. Its peak RSS is its own ``VmHWM`` (``/proc``), or when it could not report it, the
    ``ru_maxrss`` ``os.wait4`` gives for that child alone (not every child so far; an upper bound).
    """
    script = _RUNNER.format(limit=int(limit), code=textwrap.indent(textwrap.dedent(code), "    "))
    child_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    timer = threading.Timer(CHILD_TIMEOUT, proc.kill)
    timer.start()
    try:
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss of the child (kB on Linux) carries over the RSS it had when it was forked from this process, so it
    # is an upper bound; the child's own VmHWM (reset by exec) is exact when it got to report it.
    peak = usage.ru_maxrss * 1024
    found = [line for line in output.splitlines() if line.startswith("PROBE-RESULT ")]
    if not found:
        return ProbeResult("killed", "", {}, peak, proc.returncode, output)
    data = json.loads(found[-1][len("PROBE-RESULT ") :])
    if data.get("vmhwm"):
        peak = int(data["vmhwm"]) * 1024
    return ProbeResult(data["error"], data["message"], data["fields"], peak, proc.returncode, output)
