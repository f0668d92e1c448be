"""Retries of idempotent requests: injected 5xx/429 from the local Hub, and dropped connections from a raw socket."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from polaris.errors import HubServerError
from polaris.hub._transport import MAX_ATTEMPTS, RetryTransport
from polaris.hub.client import PolarisHubClient

TRANSPORT_LOGGER = "polaris.hub._transport"


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == TRANSPORT_LOGGER and "retry" in r.getMessage()]


def test_get_is_retried_on_injected_503s(
    hub_client: PolarisHubClient, local_hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    local_hub.inject_fault("/api/v1/dataset", status=503, count=2, method="GET")
    with caplog.at_level(logging.INFO, logger=TRANSPORT_LOGGER):
        datasets = hub_client.list_datasets()
    assert "polaris-demo/freesolv" in datasets
    messages = _retries(caplog)
    assert len(messages) == 2 and all("503" in m for m in messages)


def test_retry_after_is_honoured(
    hub_client: PolarisHubClient, local_hub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    local_hub.inject_fault("/api/v1/benchmark", status=429, count=1, method="GET", retry_after=1)
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger=TRANSPORT_LOGGER):
        benchmarks = hub_client.list_benchmarks()
    assert time.monotonic() - start >= 1.0
    assert "polaris-demo/freesolv-hydration-free-energy" in benchmarks
    assert len(_retries(caplog)) == 1


def test_retries_are_bounded(hub_client: PolarisHubClient, local_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    local_hub.inject_fault("/api/v2/competition", status=503, count=MAX_ATTEMPTS + 2, method="GET", retry_after=0)
    with caplog.at_level(logging.INFO, logger=TRANSPORT_LOGGER), pytest.raises(HubServerError) as info:
        hub_client.list_competitions()
    assert info.value.status_code == 503
    assert "injected fault" in (info.value.hub_message or "")
    assert len(_retries(caplog)) == MAX_ATTEMPTS - 1


def test_post_is_never_retried(hub_client: PolarisHubClient, local_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    local_hub.inject_fault("/api/v2/result", status=503, count=1, method="POST")
    with caplog.at_level(logging.INFO, logger=TRANSPORT_LOGGER):
        first = hub_client.post("/v2/result", json={})
        second = hub_client.post("/v2/result", json={})
    assert first.status_code == 503
    assert second.status_code != 503  # the single fault was used by the single try
    assert _retries(caplog) == []


def test_token_request_is_never_retried(local_hub: Any) -> None:
    local_hub.inject_fault("/api/auth/token", status=503, count=1, method="POST")
    settings = local_hub.settings(username="demo-user", password=local_hub.users["demo-user"])
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        with pytest.raises(HubServerError):
            client.login()
        assert client.login().method == "password"


# ------------------------------------------------------------------ dropped connections (a raw socket server)
class _Flaky:
    """Accepts connections; drops the first ``drops`` without answering, then answers 200 "ok"."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                self.connections += 1
                conn.settimeout(2)
                with contextlib.suppress(TimeoutError):
                    conn.recv(65536)
                if self.connections <= self.drops:
                    continue  # close without a response
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture()
def flaky() -> Iterator[_Flaky]:
    server = _Flaky(drops=2)
    yield server
    server.close()


def _http(sleeps: list[float]) -> httpx.Client:
    transport = RetryTransport(httpx.HTTPTransport(), sleep=sleeps.append)
    return httpx.Client(transport=transport, timeout=5)


def test_dropped_connections_are_retried_for_get(flaky: _Flaky) -> None:
    sleeps: list[float] = []
    with _http(sleeps) as http:
        answer = http.get(flaky.url)
    assert answer.text == "ok"
    assert flaky.connections == 3
    assert len(sleeps) == 2 and 0 < sleeps[0] <= sleeps[1] * 2 + 1e-9  # exponential with jitter


def test_dropped_connections_are_retried_for_put(flaky: _Flaky) -> None:
    with _http([]) as http:
        assert http.put(flaky.url, content=b"payload").text == "ok"
    assert flaky.connections == 3


def test_dropped_connection_is_not_retried_for_post(flaky: _Flaky) -> None:
    sleeps: list[float] = []
    with _http(sleeps) as http, pytest.raises(httpx.RemoteProtocolError):
        http.post(flaky.url, content=b"payload")
    assert flaky.connections == 1 and sleeps == []
