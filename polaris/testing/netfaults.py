"""A TCP proxy for tests that cuts the link: byte counts, and a reset after N bytes of a chosen request.

Put it between a client and a server (here: the storage endpoint of a local Hub) to cause, for real, what a flaky
network does to an upload: the connection is reset (RST) in the middle of a request, and the link stays down (every
new connection is reset at once) until :meth:`CuttingProxy.restore`. It also counts the bytes the client sent, which
is how tests measure what a resumed upload re-sends.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

__all__ = ["CuttingProxy"]

_BUFFER = 256 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with RST (linger 0), as a dropped link looks to the peer."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class CuttingProxy:
    """Forwards 127.0.0.1:<port> to ``upstream`` (host, port); counts client bytes; cuts on demand.

    ``cut(marker, after)``: once ``marker`` (bytes, e.g. an object key) appears in what a client sends, forward
    ``after`` more bytes of that connection, then reset it and take the link down.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sent = 0
        self.down = False
        self.cuts = 0
        self._marker: bytes | None = None
        self._after = 0
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._server.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="cutting-proxy", daemon=True)
        self._thread.start()

    # -- control --
    def cut(self, marker: bytes, after: int = 0) -> None:
        with self._lock:
            self._marker, self._after = marker, after

    def restore(self) -> None:
        """Bring the link back up (no cut armed)."""
        with self._lock:
            self.down = False
            self._marker = None

    def reset_count(self) -> None:
        with self._lock:
            self.sent = 0

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            _reset(sock)
        self._thread.join(5)

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing --
    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=10)
                upstream.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._conns.update((client, upstream))
            state = {"armed_at": -1, "seen": 0}
            threading.Thread(target=self._pump_up, args=(client, upstream, state), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(upstream, client), daemon=True).start()

    def _drop(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._conns.discard(sock)
        for sock in socks:
            _reset(sock)

    def _pump_up(self, client: socket.socket, upstream: socket.socket, state: dict[str, int]) -> None:
        """Client -> upstream, counting, and cutting when the armed marker was seen ``after`` bytes ago."""
        window = b""
        try:
            while True:
                data = client.recv(_BUFFER)
                if not data:
                    with contextlib.suppress(OSError):
                        upstream.shutdown(socket.SHUT_WR)
                    return
                with self._lock:
                    marker, after, down = self._marker, self._after, self.down
                if down:
                    self._drop(client, upstream)
                    return
                if marker is not None and state["armed_at"] < 0:
                    found = (window + data).find(marker)
                    if found >= 0:
                        state["armed_at"] = state["seen"] - len(window) + found + len(marker)
                window = (window + data)[-256:]
                if state["armed_at"] >= 0:
                    allowed = state["armed_at"] + after - state["seen"]
                    if allowed < len(data):
                        if allowed > 0:
                            upstream.sendall(data[:allowed])
                            with self._lock:
                                self.sent += allowed
                        with self._lock:
                            self.down = True
                            self._marker = None
                            self.cuts += 1
                        self._drop(client, upstream)
                        return
                upstream.sendall(data)
                state["seen"] += len(data)
                with self._lock:
                    self.sent += len(data)
        except OSError:
            self._drop(client, upstream)

    def _pump_down(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(_BUFFER):
                client.sendall(data)
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(client, upstream)
