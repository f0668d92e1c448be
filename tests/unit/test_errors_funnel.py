"""The one funnel from HTTP answers (and failures to get one) to polaris.errors.

Answers come from a real local HTTP(S) server on 127.0.0.1, driven through PolarisHubClient.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from polaris.errors import (
    ArtifactConflictError,
    ArtifactNotFoundError,
    HubConnectionError,
    HubServerError,
    InvalidRequestError,
    PolarisCreateArtifactError,
    PolarisHubError,
    PolarisUnauthorizedError,
    RateLimitedError,
    TokenExchangeError,
)
from polaris.hub._transport import parse_retry_after
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.wire import error_for_status, hub_message

HUB_TOKEN = "hub-token-value-never-shown"
PASSWORD = "p4ssw0rd-never-shown"


class _Hub(BaseHTTPRequestHandler):
    """Token endpoint + a dataset listing whose answer the test chooses."""

    answer: tuple[int, dict[str, str], bytes] = (200, {}, b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self._send(
            200,
            {"Content-Type": "application/json"},
            json.dumps({"access_token": HUB_TOKEN, "token_type": "Bearer", "expires_in": 3600}).encode(),
        )

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {HUB_TOKEN}":
            self._send(401, {"Content-Type": "application/json"}, b'{"message": "no token"}')
            return
        status, headers, body = self.server.answer  # type: ignore[attr-defined]
        self._send(status, headers, body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    server.answer = (200, {"Content-Type": "application/json"}, b'{"data": [], "metadata": {"total": 0}}')  # type: ignore[attr-defined]
    scheme = "http"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture()
def hub() -> Iterator[tuple[ThreadingHTTPServer, str]]:
    yield from _serve()


def _client(url: str, **settings: Any) -> PolarisHubClient:
    return PolarisHubClient(PolarisHubSettings(hub_url=url, username="demo", password=PASSWORD, **settings))


CASES = [
    (400, {"message": "name is too short"}, InvalidRequestError, "name is too short"),
    (
        422,
        {"detail": [{"loc": ["body", "name"], "msg": "field required"}]},
        InvalidRequestError,
        "body.name: field required",
    ),
    (401, {"message": "token expired"}, PolarisUnauthorizedError, "token expired"),
    (403, {"message": "not a member of org-a"}, PolarisCreateArtifactError, "not a member of org-a"),
    (404, {"detail": "no such dataset"}, ArtifactNotFoundError, "no such dataset"),
    (409, {"message": "already exists"}, ArtifactConflictError, "already exists"),
    (429, {"message": "slow down"}, RateLimitedError, "slow down"),
    (500, {"error": "server_error", "error_description": "db down"}, HubServerError, "db down"),
    (418, {"message": "teapot"}, PolarisHubError, "teapot"),
]


@pytest.mark.parametrize("status, body, error_class, message", CASES)
def test_each_status_maps_to_its_error(
    hub: tuple[ThreadingHTTPServer, str], status: int, body: dict[str, Any], error_class: type, message: str
) -> None:
    server, url = hub
    headers = {"Content-Type": "application/json"}
    if status == 429:
        headers["Retry-After"] = "120"  # longer than the retry cap: surfaced, not waited for
    server.answer = (status, headers, json.dumps(body).encode())  # type: ignore[attr-defined]
    with _client(url) as client, pytest.raises(error_class) as info:
        client.list_datasets()
    err = info.value
    assert type(err) is error_class
    assert err.status_code == status
    assert err.hub_message == message
    assert message in str(err)
    assert (
        err.method == "GET" and err.url is not None and err.url.endswith(("/api/v1/dataset", "/api/v2/dataset"))
    )  # V2 listing first (0.11+)
    assert HUB_TOKEN not in str(err) and PASSWORD not in str(err) and HUB_TOKEN not in repr(err)
    if status == 429:
        assert isinstance(err, RateLimitedError) and err.retry_after == 120
    if status == 404:
        assert isinstance(err, LookupError)
    if status in (400, 422):
        assert isinstance(err, ValueError)


def test_plain_text_error_body(hub: tuple[ThreadingHTTPServer, str]) -> None:
    server, url = hub
    server.answer = (400, {"Content-Type": "text/plain"}, b"bad limit")  # type: ignore[attr-defined]
    with _client(url) as client, pytest.raises(InvalidRequestError, match="bad limit") as info:
        client.list_datasets()
    assert "Hint:" in str(info.value)


def test_unexpected_shape_of_a_success(hub: tuple[ThreadingHTTPServer, str]) -> None:
    server, url = hub
    server.answer = (200, {"Content-Type": "application/json"}, b'{"items": []}')  # type: ignore[attr-defined]
    with _client(url) as client, pytest.raises(PolarisHubError, match="unexpected shape"):
        client.list_datasets()


def test_token_endpoint_rfc6749_error() -> None:
    class _Refuse(_Hub):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._send(
                400,
                {"Content-Type": "application/json"},
                b'{"error": "invalid_grant", "error_description": "bad password"}',
            )

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Refuse)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with (
            _client(f"http://127.0.0.1:{server.server_address[1]}") as client,
            pytest.raises(TokenExchangeError) as info,
        ):
            client.login()
        assert info.value.error == "invalid_grant"
        assert info.value.status_code == 400
        assert "bad password" in str(info.value)
        assert PASSWORD not in str(info.value)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_a_connection_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with _client(url) as client, pytest.raises(HubConnectionError) as info:
        client.list_datasets()
    assert info.value.status_code is None
    assert "POLARIS_CA_BUNDLE" in (info.value.hint or "")


# ------------------------------------------------------------------ TLS: ca_bundle really controls verification
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "polaris-test-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture()
def tls_hub(self_signed: tuple[Path, Path]) -> Iterator[tuple[ThreadingHTTPServer, str]]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(self_signed[0]), str(self_signed[1]))
    yield from _serve(ctx)


def test_untrusted_certificate_fails_with_ca_bundle_hint(tls_hub: tuple[ThreadingHTTPServer, str]) -> None:
    _, url = tls_hub
    with _client(url) as client, pytest.raises(HubConnectionError) as info:
        client.list_datasets()
    assert "TLS" in info.value.message
    assert "POLARIS_CA_BUNDLE" in (info.value.hint or "")


def test_ca_bundle_makes_the_certificate_trusted(
    tls_hub: tuple[ThreadingHTTPServer, str], self_signed: tuple[Path, Path]
) -> None:
    _, url = tls_hub
    with _client(url, ca_bundle=str(self_signed[0])) as client:
        assert client.list_datasets() == []


def test_ca_bundle_false_disables_verification(tls_hub: tuple[ThreadingHTTPServer, str]) -> None:
    _, url = tls_hub
    with _client(url, ca_bundle=False) as client:
        assert client.list_datasets() == []


# ------------------------------------------------------------------ pure helpers
def test_hub_message_sources() -> None:
    assert hub_message(b'{"message": "m", "detail": "d"}') == "m"
    assert hub_message(b'{"detail": "d"}') == "d"
    assert hub_message(b'{"error": "invalid_grant", "error_description": "why"}') == "why"
    assert hub_message(b'{"other": 1}') == '{"other": 1}'
    assert hub_message(b"plain words") == "plain words"
    assert hub_message(b"<html>oops</html>", {"content-type": "text/html"}) is None
    assert hub_message(b"") is None
    assert len(hub_message(b"x" * 5000) or "") < 1100


def test_error_for_status_without_a_body() -> None:
    err = error_for_status(503, b"", httpx.Headers({"Retry-After": "7"}), method="GET", url="http://h/api/x")
    assert isinstance(err, HubServerError) and err.status_code == 503 and err.hub_message is None
    rate = error_for_status(429, b"", httpx.Headers({"Retry-After": "7"}))
    assert isinstance(rate, RateLimitedError) and rate.retry_after == 7


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3
    assert parse_retry_after("-1") == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


def test_an_html_404_is_not_a_hub_but_keeps_its_status() -> None:
    from polaris.errors import ArtifactNotFoundError, NotAPolarisHubError

    page = b"<!doctype html><html><body>Not here</body></html>"
    error = error_for_status(404, page, {"content-type": "text/html"}, method="GET", url="https://blog.example/api/x")
    assert isinstance(error, NotAPolarisHubError) and isinstance(error, ArtifactNotFoundError)
    assert error.status_code == 404  # the generation fallback keys on it
    assert "not as a Polaris Hub does" in str(error) and "POLARIS_HUB_URL" in str(error)
    assert "log in" not in str(error).lower()
    plain = error_for_status(404, b"Not Found", {"content-type": "text/plain"}, method="GET", url="https://h/api/x")
    assert type(plain) is ArtifactNotFoundError  # plain text may be a Hub's own 404: unchanged
    json_404 = error_for_status(404, b'{"message": "no such dataset"}', {"content-type": "application/json"})
    assert type(json_404) is ArtifactNotFoundError
