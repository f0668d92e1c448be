"""The person's side of a browser login: how the URL is shown and the code read (:class:`LoginUI`), and the
loopback server that catches the identity provider's redirect (:class:`LoopbackCallbackServer`)."""

from __future__ import annotations

import html
import logging
import socket
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from polaris.errors import (
    PolarisUnauthorizedError,
)

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

#: Longest wait for the browser to come back to the loopback callback.
CALLBACK_WAIT_SECONDS = 300.0
#: How often the loopback server checks whether it should stop.
_SERVER_POLL_SECONDS = 0.05


# ---------------------------------------------------------------------------------------------- user interaction
class LoginUI(Protocol):
    """How ``login`` talks to the person logging in (the only user-facing output of the library)."""

    def open_url(self, url: str) -> None:
        """Show the authorization URL (and open a browser if wanted)."""

    def ask_code(self) -> str:
        """Read the authorization code the user copied from the Hub's callback page."""


class ConsoleLoginUI:
    """The terminal: prints the URL on stderr, opens a browser if asked, reads a pasted code."""

    def __init__(self, *, auto_open_browser: bool = True) -> None:
        self.auto_open_browser = auto_open_browser

    def _console(self) -> Any:
        from rich.console import Console

        return Console(stderr=True)

    def open_url(self, url: str) -> None:
        console = self._console()
        console.print("Open this link in a browser to log in to the Polaris Hub:", style="bold")
        console.print(url, soft_wrap=True, markup=False, highlight=False)
        if self.auto_open_browser:
            try:
                webbrowser.open(url, new=2)
            except webbrowser.Error:
                logger.debug("No browser could be opened")

    def ask_code(self) -> str:
        from rich.prompt import Prompt

        return str(Prompt.ask("Paste the authorization code shown after logging in", console=self._console()))


# ---------------------------------------------------------------------------------------------- loopback catcher
class _CallbackHandler(BaseHTTPRequestHandler):
    server: _CallbackHTTPServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.expected_path:
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
        if "error" in params:
            body = "<h1>Login failed</h1><p>{}</p><p>You can close this tab.</p>".format(
                html.escape(params.get("error_description") or params["error"])
            )
        elif "code" in params:
            body = "<h1>Logged in to the Polaris Hub</h1><p>You can close this tab and return to the terminal.</p>"
        else:
            self.send_error(400, "missing code")
            return
        data = f"<!doctype html><html><head><title>Polaris login</title></head><body>{body}</body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)
        if self.server.result is None:
            self.server.result = params
            self.server.done.set()

    def log_message(self, format: str, *args: Any) -> None:  # keep codes out of stderr
        logger.debug("login callback: %s", self.command)


class _CallbackHTTPServer(HTTPServer):
    def __init__(self, address: tuple[str, int], family: socket.AddressFamily, expected_path: str) -> None:
        self.address_family = family
        self.expected_path = expected_path
        self.result: dict[str, str] | None = None
        self.done = threading.Event()
        super().__init__(address, _CallbackHandler)


class LoopbackCallbackServer:
    """A one-shot local HTTP server that catches ``?code&state`` (RFC 8252, loopback redirect).

    ``callback_url`` gives host, port and path; port 0 (or none) picks a free port, and
    :attr:`redirect_uri` then names the real one.
    """

    def __init__(self, callback_url: str) -> None:
        parts = urlsplit(callback_url)
        host = parts.hostname or "127.0.0.1"
        bind_host = "127.0.0.1" if host == "localhost" else host
        family = socket.AF_INET6 if ":" in bind_host else socket.AF_INET
        self._server = _CallbackHTTPServer((bind_host, parts.port or 0), family, parts.path or "/")
        port = self._server.server_address[1]
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.redirect_uri = urlunsplit(("http", netloc, parts.path or "/", "", ""))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": _SERVER_POLL_SECONDS}, daemon=True
        )
        self._thread.start()

    def wait(self, timeout: float = CALLBACK_WAIT_SECONDS) -> dict[str, str]:
        """The query parameters of the first callback.

        Raises:
            PolarisUnauthorizedError: nothing arrived within ``timeout`` seconds.
        """
        if not self._server.done.wait(timeout):
            raise PolarisUnauthorizedError(
                f"No login callback arrived within {timeout:.0f} seconds",
                hint="Run `polaris login` again and finish logging in in the browser.",
            )
        assert self._server.result is not None
        return dict(self._server.result)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackCallbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
