"""Login against the local Hub over real HTTP: password grant, PKCE (loopback and pasted code), renewal, cache."""

from __future__ import annotations

import json
import os
import stat
import time
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from http_browser import Browser, ScriptedUI  # tests/ is on sys.path (conftest)

from polaris import _paths
from polaris.errors import ClientClosedError, PolarisUnauthorizedError, TokenExchangeError
from polaris.hub.client import PolarisHubClient


class NoUI:
    def open_url(self, url: str) -> None:
        raise AssertionError("the user must not be asked")

    def ask_code(self) -> str:
        raise AssertionError("the user must not be asked")


# ------------------------------------------------------------------ helpers
def _cache_files() -> list[str]:
    folder = _paths.token_dir()
    return sorted(os.listdir(folder)) if folder.exists() else []


def _cache_content(client: PolarisHubClient) -> dict[str, Any]:
    path = client._authenticator.cache.path
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _password_settings(local_hub: Any, **overrides: Any) -> Any:
    return local_hub.settings(username="demo-user", password=local_hub.users["demo-user"], **overrides)


# ------------------------------------------------------------------ password grant
def test_password_login_writes_a_private_cache(local_hub: Any) -> None:
    with PolarisHubClient(_password_settings(local_hub)) as client:
        result = client.login()
        assert result.method == "password" and not result.already_logged_in
        assert result.identity == "demo-user"
        assert client.list_datasets() == [] or isinstance(client.list_datasets(), list)
        assert client.whoami() == "demo-user"
        path = client._authenticator.cache.path
    folder = _paths.token_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = path.read_text()
    data = json.loads(raw)
    assert data["hub_url"] == local_hub.settings().hub_url
    assert data["hub_token"]["access_token"].count(".") == 2  # a JWT
    assert isinstance(data["hub_token"]["expires_at"], int)
    assert data["external_token"] is None
    assert local_hub.users["demo-user"] not in raw and "password" not in raw
    assert [p.name for p in folder.iterdir()] == [path.name]  # no temporary file left behind


def test_wrong_password_is_refused_and_nothing_cached(local_hub: Any) -> None:
    settings = local_hub.settings(username="demo-user", password="not-the-password")
    with PolarisHubClient(settings) as client, pytest.raises(TokenExchangeError) as info:
        client.login()
    assert info.value.error == "invalid_grant"
    assert "not-the-password" not in str(info.value)
    assert _cache_files() == []


def test_cache_auth_token_false_writes_nothing(local_hub: Any) -> None:
    with PolarisHubClient(_password_settings(local_hub), cache_auth_token=False) as client:
        client.login()
        assert isinstance(client.list_datasets(), list)
    assert not _paths.token_dir().exists() or _cache_files() == []
    # A new client has no login: it still reads public artifacts, anonymously (no token, no prompt).
    with PolarisHubClient(local_hub.settings(), cache_auth_token=False) as client:
        assert not client.is_logged_in
        assert "polaris-demo/freesolv" in client.list_datasets()
        assert not client.is_logged_in


def test_already_logged_in_does_nothing_unless_overwrite(local_hub: Any) -> None:
    settings = _password_settings(local_hub)
    with PolarisHubClient(settings) as client:
        client.login()
        first = _cache_content(client)["hub_token"]["access_token"]
    with PolarisHubClient(settings) as client:
        again = client.login(ui=NoUI())
        assert again.already_logged_in and again.identity == "demo-user"
        assert _cache_content(client)["hub_token"]["access_token"] == first
        fresh = client.login(overwrite=True, ui=NoUI())
        assert not fresh.already_logged_in
        assert _cache_content(client)["hub_token"]["access_token"] != first


def test_logout_removes_tokens(local_hub: Any) -> None:
    with PolarisHubClient(_password_settings(local_hub)) as client:
        client.login()
        assert _cache_files()
    with PolarisHubClient(local_hub.settings()) as client:
        assert client.is_logged_in  # read from the cache
        assert client.logout() is True
        assert _cache_files() == []
        with pytest.raises(PolarisUnauthorizedError):
            client.whoami()
        assert client.is_anonymous  # reads now go out without a token
        assert client.logout() is False


# ------------------------------------------------------------------ PKCE
def test_pkce_login_with_loopback_callback(local_hub: Any) -> None:
    settings = local_hub.settings(callback_url="http://127.0.0.1:0/callback")
    ui = ScriptedUI(Browser("demo-user", local_hub.users["demo-user"]))
    with PolarisHubClient(settings) as client:
        result = client.login(ui=ui)
        assert result.method == "authorization_code"
        assert "demo-user" in result.identity
        assert isinstance(client.list_datasets(), list)
    (url,) = ui.urls
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["client_id"] == [settings.client_id]
    assert len(query["state"][0]) >= 16
    redirect_uri = query["redirect_uri"][0]
    assert redirect_uri.startswith("http://127.0.0.1:") and not redirect_uri.startswith("http://127.0.0.1:0/")
    assert ui.browser.pages_seen == ["login", "consent"]
    assert ui.browser.landed is not None and "close this tab" in ui.browser.landed.text
    with PolarisHubClient(settings) as client:
        data = _cache_content(client)
    assert data["external_token"]["access_token"] and data["hub_token"]["access_token"]
    assert data["external_token"]["access_token"] != data["hub_token"]["access_token"]


def test_pkce_login_with_pasted_code(local_hub: Any) -> None:
    hub_url = local_hub.settings().hub_url
    # The Hub's own callback page (on loopback here) shows the code; the user pastes it.
    settings = local_hub.settings(callback_url=urljoin(hub_url, "/oauth2/callback"))
    assert settings.callback_is_loopback and not settings.catches_callback_locally
    ui = ScriptedUI(Browser("other-user", local_hub.users["other-user"]))
    with PolarisHubClient(settings) as client:
        result = client.login(ui=ui)
        assert isinstance(client.list_datasets(), list)
    assert "other-user" in result.identity
    assert ui.browser.redirect is not None and urlsplit(ui.browser.redirect).path == "/oauth2/callback"


def test_state_mismatch_is_refused(local_hub: Any) -> None:
    settings = local_hub.settings(callback_url="http://127.0.0.1:0/callback")
    ui = ScriptedUI(Browser("demo-user", local_hub.users["demo-user"]), tamper_state=True)
    with PolarisHubClient(settings) as client, pytest.raises(PolarisUnauthorizedError, match="state"):
        client.login(ui=ui)
    assert _cache_files() == []


def test_denied_consent_is_an_error(local_hub: Any) -> None:
    settings = local_hub.settings(callback_url="http://127.0.0.1:0/callback")
    ui = ScriptedUI(Browser("demo-user", local_hub.users["demo-user"], decision="deny"))
    with PolarisHubClient(settings) as client, pytest.raises(TokenExchangeError) as info:
        client.login(ui=ui)
    assert info.value.error == "access_denied"
    assert _cache_files() == []


# ------------------------------------------------------------------ renewal of expired Hub tokens
def _expired_on_the_server(local: Any, token: str) -> bool:
    answer = httpx.get(f"{local.api_url}/v1/dataset", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return answer.status_code == 401


@pytest.mark.slow
def test_expired_hub_token_is_renewed_from_the_external_token(local_hub_factory: Any) -> None:
    hub = local_hub_factory(token_ttl=2, seed="demo")
    settings = hub.settings(callback_url="http://127.0.0.1:0/callback")
    with PolarisHubClient(settings) as client:
        client.login(ui=ScriptedUI(Browser("demo-user", hub.users["demo-user"])))
        old = _cache_content(client)["hub_token"]["access_token"]
    deadline = time.monotonic() + 10
    while not _expired_on_the_server(hub, old):
        assert time.monotonic() < deadline, "the Hub token never expired"
        time.sleep(0.5)
    with PolarisHubClient(settings) as client:
        assert isinstance(client.list_datasets(), list)  # no UI: renewed silently
        new = _cache_content(client)["hub_token"]["access_token"]
    assert new != old


@pytest.mark.slow
def test_expired_hub_token_is_renewed_from_the_password(local_hub_factory: Any) -> None:
    hub = local_hub_factory(token_ttl=2, seed="demo")
    settings = _password_settings(hub)
    with PolarisHubClient(settings) as client:
        client.login()
        old = _cache_content(client)["hub_token"]["access_token"]
    time.sleep(3)
    assert _expired_on_the_server(hub, old)
    with PolarisHubClient(settings) as client:
        assert isinstance(client.list_datasets(), list)
        assert _cache_content(client)["hub_token"]["access_token"] != old


# ------------------------------------------------------------------ the client object
def test_client_is_an_httpx_client_sharing_its_connection(local_hub: Any) -> None:
    from polaris_hub_api.api.datasets import list_datasets_v1

    with PolarisHubClient(_password_settings(local_hub)) as client:
        assert isinstance(client, httpx.Client)
        client.login()
        assert client.api.get_httpx_client() is client
        answer = list_datasets_v1.sync_detailed(client=client.api, limit=5, offset=0)
        assert answer.status_code == 200
        assert "access_token" not in repr(client) and "eyJ" not in repr(client)
    with pytest.raises(ClientClosedError):
        client.list_datasets()
    with pytest.raises(ClientClosedError):
        client.get("/v1/dataset")
    with pytest.raises(ClientClosedError), client:
        pass


def test_tokens_never_reach_logs_or_reprs(local_hub: Any, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    settings = local_hub.settings(callback_url="http://127.0.0.1:0/callback")
    # The CLI tests may have set the "polaris" logger's own level; capture everything from every logger here.
    with (
        caplog.at_level(logging.DEBUG),
        caplog.at_level(logging.DEBUG, logger="polaris"),
        PolarisHubClient(settings) as client,
    ):
        client.login(ui=ScriptedUI(Browser("demo-user", local_hub.users["demo-user"])))
        client.list_datasets()
        data = _cache_content(client)
        shown = [
            repr(client),
            repr(client._authenticator),
            repr(client._authenticator.cache),
            repr(client.settings),
        ]
    secrets = [data["hub_token"]["access_token"], data["external_token"]["access_token"], local_hub.users["demo-user"]]
    if data["external_token"].get("refresh_token"):
        secrets.append(data["external_token"]["refresh_token"])
    for secret in secrets:
        assert secret not in caplog.text
        assert all(secret not in text for text in shown)
    assert "polaris.hub.auth" in caplog.text  # the login was logged, just without secrets
