"""The one offline fallback, for every kind and generation (issue 19's matrix).

Each artifact is first loaded from the local Hub (filling the verified cache), then asked again of a "Hub" that
cannot serve it, counting the attempts at that loopback socket:

* ``reset``: a listener that accepts every connection and resets it (the Hub is unreachable);
* ``5xx``: an HTTP server answering ``503`` to every request;
* ``offline``: ``POLARIS_OFFLINE=1`` with the same counting listener as ``hub_url``: nothing may reach it.

Unreachable means at most one failed request's attempts (the retry policy's tries), then the verified cached copy
with one clear log line; offline mode means no attempt at all.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from polaris.errors import HubConnectionError, HubServerError, NotCachedError
from polaris.hub._transport import RetryTransport
from polaris.hub.client import PolarisHubClient
from polaris.hub.retry import MAX_ATTEMPTS

V1_DATASET = "polaris-demo/freesolv"
V2_DATASET = "polaris-demo/freesolv-zarr"
V1_BENCHMARK = "polaris-demo/freesolv-hydration-free-energy"
V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
V1_COMPETITION = "polaris-demo/freesolv-zarr-challenge"  # /v1/competition: 0.11+ Zarr
V2_COMPETITION = "polaris-demo/freesolv-challenge"  # /v2/competition: 0.10
MODEL = "polaris-demo/freesolv-linear-baseline"

#: (matrix row, client method, artifact, what the loaded artifact must show)
CASES = [
    ("dataset V1", "get_dataset", V1_DATASET, "DatasetV1"),
    ("dataset V2", "get_dataset", V2_DATASET, "DatasetV2"),
    ("benchmark V1", "get_benchmark", V1_BENCHMARK, "BenchmarkSpecification"),
    ("benchmark V2", "get_benchmark", V2_BENCHMARK, "BenchmarkV2Specification"),
    ("competition V1", "get_competition", V1_COMPETITION, "ZarrCompetitionSpecification"),
    ("competition V2", "get_competition", V2_COMPETITION, "CompetitionSpecification"),
    ("model", "get_model", MODEL, "Model"),
]
IDS = [c[0].replace(" ", "-") for c in CASES]
TIMEOUT = 20.0


def _is(loaded: Any, expected: str) -> bool:
    """``loaded`` is a ``expected`` (by class name, subclasses included), and a 0.10 competition is no Zarr one."""
    names = {c.__name__ for c in type(loaded).__mro__}
    if expected == "CompetitionSpecification" and "ZarrCompetitionSpecification" in names:
        return False
    return expected in names


class ResettingListener:
    """A loopback TCP listener that counts every connection and resets it at once (an unreachable Hub)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.attempts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.attempts += 1
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


class FailingHub:
    """A loopback HTTP server answering 503 to every request, counting them."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _fail(self) -> None:
                owner.attempts += 1
                body = b'{"message": "down for maintenance"}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = _fail

            def log_message(self, *args: Any) -> None:
                return

        self.attempts = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def _filled_cache(_polaris_session_hub: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A cache folder holding every artifact of the matrix, loaded once from the local Hub (verified copies)."""
    hub = _polaris_session_hub
    folder = str(tmp_path_factory.mktemp("offline-matrix-cache"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLARIS_CACHE_DIR", folder)
        settings = hub.settings(username="demo-user", password=hub.users["demo-user"])
        with PolarisHubClient(settings, cache_auth_token=False, timeout=TIMEOUT) as online:
            online.show_progress = False
            online.login()
            for _, method, artifact, expected in CASES:
                loaded = getattr(online, method)(artifact)
                assert _is(loaded, expected), type(loaded)
    yield folder


@pytest.fixture
def cached(_filled_cache: str, _polaris_session_hub: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The local Hub's settings factory, with this test's cache folder the filled one."""
    monkeypatch.setenv("POLARIS_CACHE_DIR", _filled_cache)
    return _polaris_session_hub


def _client(hub: Any, url: str, **settings: Any) -> PolarisHubClient:
    """A client of the fake Hub at ``url``, without a login (no token request), retrying without sleeping."""
    transport = RetryTransport(httpx.HTTPTransport(), sleep=lambda _: None)
    client = PolarisHubClient(
        hub.settings(hub_url=url, **settings), cache_auth_token=False, transport=transport, timeout=TIMEOUT
    )
    client.show_progress = False
    return client


@pytest.mark.parametrize(("row", "method", "artifact", "expected"), CASES, ids=IDS)
def test_unreachable_hub_one_request_then_the_cached_copy(
    cached: Any, row: str, method: str, artifact: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    listener = ResettingListener()
    try:
        with _client(cached, listener.url) as client, caplog.at_level(logging.INFO, logger="polaris"):
            loaded = getattr(client, method)(artifact)
    finally:
        listener.close()
    assert _is(loaded, expected), type(loaded)
    assert listener.attempts == MAX_ATTEMPTS, f"{row}: {listener.attempts} attempts"
    said = [r for r in caplog.records if "cached copy" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]
    assert "The Hub cannot be reached" in said[0].getMessage() and artifact in said[0].getMessage()


@pytest.mark.parametrize(("row", "method", "artifact", "expected"), CASES, ids=IDS)
def test_hub_answering_5xx_one_request_then_the_cached_copy(
    cached: Any, row: str, method: str, artifact: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    failing = FailingHub()
    try:
        with _client(cached, failing.url) as client, caplog.at_level(logging.INFO, logger="polaris"):
            loaded = getattr(client, method)(artifact)
    finally:
        failing.close()
    assert _is(loaded, expected), type(loaded)
    assert failing.attempts == MAX_ATTEMPTS, f"{row}: {failing.attempts} attempts"
    said = [r for r in caplog.records if "cached copy" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]


@pytest.mark.parametrize(("row", "method", "artifact", "expected"), CASES, ids=IDS)
def test_offline_mode_no_attempt_and_the_cached_copy(
    cached: Any, row: str, method: str, artifact: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    listener = ResettingListener()
    try:
        with _client(cached, listener.url, offline=True) as client, caplog.at_level(logging.INFO, logger="polaris"):
            loaded = getattr(client, method)(artifact)
    finally:
        listener.close()
    assert _is(loaded, expected), type(loaded)
    assert listener.attempts == 0, f"{row}: {listener.attempts} attempts"
    said = [r for r in caplog.records if "cached copy" in r.getMessage() and r.levelno >= logging.INFO]
    assert len(said) == 1 and said[0].levelno == logging.INFO
    assert said[0].getMessage().startswith(f"Offline mode: using the verified cached copy of {artifact}")


def test_nothing_cached_unreachable_raises_after_one_request(cached: Any) -> None:
    listener = ResettingListener()
    try:
        with _client(cached, listener.url) as client, pytest.raises(HubConnectionError):
            client.get_dataset("polaris-demo/never-cached")
    finally:
        listener.close()
    assert listener.attempts == MAX_ATTEMPTS


def test_nothing_cached_5xx_raises_the_hubs_error(cached: Any) -> None:
    failing = FailingHub()
    try:
        with _client(cached, failing.url) as client, pytest.raises(HubServerError):
            client.get_model("polaris-demo/never-cached")
    finally:
        failing.close()
    assert failing.attempts == MAX_ATTEMPTS


def test_nothing_cached_offline_names_it(cached: Any) -> None:
    listener = ResettingListener()
    try:
        with _client(cached, listener.url, offline=True) as client, pytest.raises(NotCachedError) as caught:
            client.get_competition("polaris-demo/never-cached")
    finally:
        listener.close()
    assert caught.value.kind == "competition" and caught.value.artifact == "polaris-demo/never-cached"
    assert listener.attempts == 0
