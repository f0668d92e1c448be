"""Logins that survive: processes sharing one cache after expiry, Hub tokens the Hub rejects, logout revocation."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from http_browser import Browser, ScriptedUI  # tests/ is on sys.path (conftest)

from polaris.errors import PolarisUnauthorizedError
from polaris.hub import auth as auth_module
from polaris.hub.auth import is_expired
from polaris.hub.client import PolarisHubClient
from polaris.hub.token_cache import CachedTokens, TokenCache

pytestmark = pytest.mark.timeout(240)


class NoUI:
    def open_url(self, url: str) -> None:
        raise AssertionError("the user must not be asked")

    def ask_code(self) -> str:
        raise AssertionError("the user must not be asked")


def _password_settings(hub: Any, **overrides: Any) -> Any:
    return hub.settings(username="demo-user", password=hub.users["demo-user"], **overrides)


def _pkce_settings(hub: Any, **overrides: Any) -> Any:
    return hub.settings(callback_url="http://127.0.0.1:0/callback", **overrides)


def _tamper(token: str) -> str:
    """The same JWT with a broken signature (header and claims, hence expiry, unchanged)."""
    head, claims, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{head}.{claims}.{flipped}"


def _cached(settings: Any) -> CachedTokens:
    return TokenCache(settings.hub_url).load()


def _tamper_cached_hub_token(settings: Any) -> str:
    cache = TokenCache(settings.hub_url)
    tokens = cache.load()
    assert tokens.hub_token is not None
    bad = dict(tokens.hub_token, access_token=_tamper(tokens.hub_token["access_token"]))
    cache.save(CachedTokens(tokens.external_token, bad, tokens.identity))
    return str(bad["access_token"])


class _GrantCounter:
    """Counts the Hub token requests of this process (password grants and exchanges of a login)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.password = 0
        self.exchange = 0
        password, exchange = auth_module.password_grant, auth_module.exchange_for_hub_token

        def counted_password(*args: Any, **kwargs: Any) -> dict[str, Any]:
            self.password += 1
            return password(*args, **kwargs)

        def counted_exchange(*args: Any, **kwargs: Any) -> dict[str, Any]:
            self.exchange += 1
            return exchange(*args, **kwargs)

        monkeypatch.setattr(auth_module, "password_grant", counted_password)
        monkeypatch.setattr(auth_module, "exchange_for_hub_token", counted_exchange)


# ------------------------------------------------------------------ N processes, one cache, rotating refresh tokens
_WORKER = r"""
import json, sys
from polaris.hub.client import PolarisHubClient

client = PolarisHubClient()
print("ready", flush=True)
sys.stdin.readline()
try:
    datasets = client.list_datasets()
    who = client.whoami()
    hub = client._authenticator.tokens.hub_token["access_token"]
    print(json.dumps({"ok": True, "who": who, "hub": hub[-12:], "n": len(datasets)}), flush=True)
except Exception as exc:
    print(json.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc)}), flush=True)
    sys.exit(1)
finally:
    client.close()
"""


@pytest.mark.slow
def test_processes_sharing_one_cache_all_stay_logged_in_after_expiry(local_hub_factory: Any) -> None:
    hub = local_hub_factory(token_ttl=3, seed="demo")
    settings = _pkce_settings(hub)
    with PolarisHubClient(settings) as client:
        client.login(ui=ScriptedUI(Browser("demo-user", hub.users["demo-user"])))
    first = _cached(settings)
    assert first.external_token is not None and first.external_token.get("refresh_token")
    old_refresh = first.external_token["refresh_token"]

    env = dict(os.environ, **hub.env(), POLARIS_CALLBACK_URL="http://127.0.0.1:0/callback")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        # Every process now holds the same expired tokens and the same (single-use) refresh token.
        deadline = time.monotonic() + 20
        while not (is_expired(first.external_token) and is_expired(first.hub_token)):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        for worker in workers:  # go, all at once
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        answers = []
        for worker in workers:
            out, _ = worker.communicate(timeout=120)
            answers.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    assert all(a["ok"] for a in answers), answers
    assert all("demo-user" in a["who"] for a in answers), answers
    # One process refreshed (rotating the refresh token); the others waited on the lock and used its tokens.
    assert len({a["hub"] for a in answers}) == 1, answers
    after = _cached(settings)
    assert after.external_token is not None and after.external_token["refresh_token"] != old_refresh
    with PolarisHubClient(settings) as client:  # and the cache is still good for the next process
        assert client.login(ui=NoUI()).already_logged_in


# ------------------------------------------------------------------ a cached Hub token the Hub rejects (401)
def test_rejected_cached_hub_token_is_renewed_once_with_the_password(
    local_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _password_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login()
    bad = _tamper_cached_hub_token(settings)
    grants = _GrantCounter(monkeypatch)
    with PolarisHubClient(settings) as client:
        assert not is_expired(client._authenticator.tokens.hub_token)  # locally it looks fine
        assert isinstance(client.list_datasets(), list)  # 401 -> renewed -> resent
        assert grants.password == 1
        assert client.token["access_token"] != bad
        assert isinstance(client.list_benchmarks(), list)  # the new token is used from now on
        assert grants.password == 1
    assert _cached(settings).hub_token["access_token"] not in (bad, None)  # type: ignore[index]


def test_a_hub_that_keeps_refusing_gets_one_renewal_then_an_error(
    local_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _password_settings(local_hub)
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.login()
        grants = _GrantCounter(monkeypatch)
        local_hub.inject_fault("/api/v1/dataset", status=401, count=2, method="GET")
        with pytest.raises(PolarisUnauthorizedError):
            client.list_datasets()
        assert grants.password == 1  # renewed once, not in a loop
        assert isinstance(client.list_datasets(), list)  # the fault is used up; the renewed token works


def test_rejected_cached_hub_token_is_renewed_by_exchanging_the_login(
    local_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _pkce_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login(ui=ScriptedUI(Browser("demo-user", local_hub.users["demo-user"])))
    bad = _tamper_cached_hub_token(settings)
    grants = _GrantCounter(monkeypatch)
    with PolarisHubClient(settings) as client:
        assert "demo-user" in client.whoami()  # whoami asks the Hub: the 401 renews the token once
        assert isinstance(client.list_datasets(), list)
        assert grants.exchange == 1 and grants.password == 0
    assert _cached(settings).hub_token["access_token"] != bad  # type: ignore[index]


def test_rejected_hub_token_is_renewed_for_a_storage_token(local_hub: Any) -> None:
    settings = _password_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login()
    bad = _tamper_cached_hub_token(settings)
    with PolarisHubClient(settings) as client:
        token = client._authenticator.storage_token(resource="urn:polaris:dataset:polaris-demo:freesolv", scope="read")
        assert token["access_token"] and client._authenticator.tokens.hub_token["access_token"] != bad


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_hub_restarted_with_a_new_signing_secret_renews_the_cached_token(local_hub_factory: Any, tmp_path: Any) -> None:
    port = _free_port()
    first = local_hub_factory(seed="demo", port=port, data_dir=tmp_path / "first")
    settings = _password_settings(first)
    with PolarisHubClient(settings) as client:
        client.login()
    old = _cached(settings).hub_token["access_token"]  # type: ignore[index]
    first.stop()
    second = local_hub_factory(seed="demo", port=port, data_dir=tmp_path / "second")  # another JWT secret
    assert second.url == first.url
    with PolarisHubClient(_password_settings(second)) as client:
        assert isinstance(client.list_datasets(), list)
    assert _cached(settings).hub_token["access_token"] != old  # type: ignore[index]


# ------------------------------------------------------------------ login() and a rejected cache
def test_login_renews_instead_of_saying_already_logged_in(local_hub: Any) -> None:
    settings = _password_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login()
    bad = _tamper_cached_hub_token(settings)
    with PolarisHubClient(settings) as client:
        result = client.login(ui=NoUI())
        assert not result.already_logged_in and result.method == "renewed"
        assert client.token["access_token"] != bad
        again = client.login(ui=NoUI())
        assert again.already_logged_in and again.method == "cached"


def test_login_logs_in_again_when_the_rejected_cache_cannot_be_renewed(local_hub: Any) -> None:
    settings = _pkce_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login(ui=ScriptedUI(Browser("demo-user", local_hub.users["demo-user"])))
    cache = TokenCache(settings.hub_url)
    tokens = cache.load()
    assert tokens.hub_token is not None and tokens.external_token is not None
    # Both tokens rejected and nothing to refresh with: only a new login can help.
    external = {k: v for k, v in tokens.external_token.items() if k != "refresh_token"}
    external["access_token"] = "revoked-" + external["access_token"]
    hub_token = dict(tokens.hub_token, access_token=_tamper(tokens.hub_token["access_token"]))
    cache.save(CachedTokens(external, hub_token, tokens.identity))
    ui = ScriptedUI(Browser("demo-user", local_hub.users["demo-user"]))
    with PolarisHubClient(settings) as client:
        result = client.login(ui=ui)
        assert not result.already_logged_in and result.method == "authorization_code"
        assert len(ui.urls) == 1
        assert isinstance(client.list_datasets(), list)


@pytest.mark.slow
def test_login_with_the_hub_unreachable_keeps_the_cached_login(local_hub_factory: Any) -> None:
    hub = local_hub_factory(seed="demo")
    settings = _password_settings(hub)
    with PolarisHubClient(settings) as client:
        client.login()
    hub.stop()
    with PolarisHubClient(settings) as client:
        result = client.login(ui=NoUI())
        assert result.already_logged_in  # cannot check with the Hub: the cache is not thrown away


# ------------------------------------------------------------------ logout revokes (RFC 7009)
class _Recorder:
    """A real local HTTP server recording every POST (path, headers, form) and answering ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                recorder.requests.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type", ""),
                        "authorization": self.headers.get("Authorization"),
                        "form": {k: v[0] for k, v in parse_qs(body).items()},
                    }
                )
                self.send_response(recorder.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    try:
        yield server
    finally:
        server.close()


def test_logout_revokes_the_hub_token(local_hub: Any, recorder: _Recorder) -> None:
    settings = _password_settings(
        local_hub, revoke_url=f"{recorder.url}/oauth/revoke", allow_token_origins=recorder.url
    )
    with PolarisHubClient(settings) as client:
        client.login()
        hub_token = client.token["access_token"]
        assert client.logout() is True
        assert not client.is_logged_in
    assert len(recorder.requests) == 1  # the identity provider's tokens never go to another origin
    (sent,) = recorder.requests
    assert sent["path"] == "/oauth/revoke"
    assert sent["content_type"].startswith("application/x-www-form-urlencoded")
    assert sent["form"] == {"token": hub_token, "token_type_hint": "access_token"}
    assert sent["authorization"] is None


def test_logout_revokes_identity_provider_tokens_on_its_own_origin(recorder: _Recorder) -> None:
    from polaris.hub.settings import PolarisHubSettings

    settings = PolarisHubSettings(
        hub_url=f"{recorder.url}/",
        token_fetch_url=f"{recorder.url}/oauth/token",
        client_id="public-client",
    )
    cache = TokenCache(settings.hub_url)
    external = {"access_token": "idp-access-1234567890", "refresh_token": "idp-refresh-1234567890", "expires_at": 1}
    cache.save(CachedTokens(external, {"access_token": "hub-access-1234567890", "expires_at": 4102444800}, {}))
    with PolarisHubClient(settings) as client:
        assert client.logout() is True
    forms = [r["form"] for r in recorder.requests]
    assert {"token": "hub-access-1234567890", "token_type_hint": "access_token"} in forms
    assert {
        "token": "idp-refresh-1234567890",
        "token_type_hint": "refresh_token",
        "client_id": "public-client",
    } in forms
    assert {"token": "idp-access-1234567890", "token_type_hint": "access_token", "client_id": "public-client"} in forms
    assert all(r["path"] == "/oauth/revoke" for r in recorder.requests)


@pytest.mark.parametrize("status", [404, 400, 503])
def test_logout_works_when_revocation_is_refused(local_hub: Any, status: int, caplog: pytest.LogCaptureFixture) -> None:
    server = _Recorder(status=status)
    try:
        settings = _password_settings(
            local_hub, revoke_url=f"{server.url}/oauth/revoke", allow_token_origins=server.url
        )
        with PolarisHubClient(settings) as client:
            client.login()
            with caplog.at_level("DEBUG", logger="polaris"):
                assert client.logout() is True
            assert not client.is_logged_in
        assert len(server.requests) == 1
    finally:
        server.close()
    assert f"HTTP {status}" in caplog.text
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_logout_works_offline(local_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    port = _free_port()
    settings = _password_settings(
        local_hub, revoke_url=f"http://127.0.0.1:{port}/oauth/revoke", allow_token_origins=f"http://127.0.0.1:{port}"
    )
    with PolarisHubClient(settings) as client:
        client.login()
        with caplog.at_level("DEBUG", logger="polaris"):
            assert client.logout() is True
    assert TokenCache(settings.hub_url).load().hub_token is None
    assert "Token revocation" in caplog.text and "ConnectError" in caplog.text


def test_logout_revokes_the_hub_token_at_the_local_hub(local_hub: Any) -> None:
    """End to end: after ``logout()`` the Hub refuses the token it had issued (revoked at ``settings.revoke_url``)."""
    import httpx

    settings = _password_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login()
        old = str(client.token["access_token"])
        listing = f"{settings.resolved_api_url.rstrip('/')}/v1/dataset"
        headers = {"Authorization": f"Bearer {old}"}
        assert httpx.get(listing, headers=headers, timeout=30).status_code == 200  # accepted before the logout
        assert client.logout() is True
    refused = httpx.get(listing, headers=headers, timeout=30)
    assert refused.status_code == 401 and "revoked" in refused.text.lower(), refused.text
    with PolarisHubClient(settings) as client:  # a new login is unaffected
        client.login()
        assert client.token["access_token"] != old
        assert client.list_datasets(limit=1)
