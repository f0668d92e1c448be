"""Issue 22: never change target or identity silently, and say so when a URL is not a Hub (against a local Hub).

- another Hub with default identity-provider settings: the client learns them from the Hub's discovery document,
  or refuses naming the variables to set;
- a broken or expired cached login is a typed error, never anonymous results;
- ``whoami`` checks with the Hub; the Hub URL is in every auth message;
- a URL that answers but is not a Hub says so; prediction-shape problems are ``InvalidPredictionsError``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from http_browser import Browser, ScriptedUI  # tests/ is on sys.path (conftest)

from polaris.errors import (
    ArtifactNotFoundError,
    CachedLoginError,
    IdentityProviderUnknownError,
    InvalidPredictionsError,
    NotAPolarisHubError,
    PolarisUnauthorizedError,
)
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings
from polaris.hub.token_cache import TokenCache

HTTP_TIMEOUT = 10.0
COMPETITION = "polaris-demo/freesolv-challenge"


class _HtmlSite:
    """A loopback web site that is not a Polaris Hub: every path answers an HTML page (``status``)."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.paths: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def _page(self) -> None:
                site.paths.append(self.path)
                body = b"<!doctype html><html><body><h1>Welcome to my blog</h1></body></html>"
                self.send_response(status)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _page

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=HTTP_TIMEOUT)


@pytest.fixture(params=[404, 200])
def html_site(request: pytest.FixtureRequest) -> Iterator[_HtmlSite]:
    site = _HtmlSite(request.param)
    try:
        yield site
    finally:
        site.close()


class _RecordingUI:
    """A LoginUI that records the authorization URL and gives no code (the login then aborts)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def open_url(self, url: str) -> None:
        self.urls.append(url)

    def ask_code(self) -> str:
        return ""


# ------------------------------------------------------------------------------------------- discovery
def test_the_local_hub_serves_a_discovery_document(local_hub: Any) -> None:
    document = httpx.get(local_hub.url + ".well-known/polaris-hub", timeout=HTTP_TIMEOUT).json()
    assert document["authorize_url"] == local_hub.authorize_url
    assert document["token_fetch_url"] == local_hub.token_fetch_url
    assert document["user_info_url"] == local_hub.user_info_url
    assert document["client_id"] == local_hub.client_id
    assert document["hub_token_url"] == local_hub.hub_token_url


def test_another_hub_with_default_idp_settings_learns_them_from_the_hub(local_hub: Any) -> None:
    settings = PolarisHubSettings(hub_url=local_hub.url, callback_url="http://127.0.0.1:0/callback")
    assert settings.authorize_url.startswith("https://clerk.polarishub.io")  # the defaults, before any login
    ui = ScriptedUI(Browser("demo-user", local_hub.users["demo-user"]))
    with PolarisHubClient(settings) as client:
        result = client.login(ui=ui)
        assert result.method == "authorization_code"
        assert "demo-user" in client.whoami()
    (url,) = ui.urls
    assert url.startswith(local_hub.authorize_url + "?")  # never the real Hub's identity provider
    assert parse_qs(urlsplit(url).query)["client_id"] == [local_hub.client_id]
    assert settings.token_fetch_url == local_hub.token_fetch_url


def test_the_real_hub_keeps_its_default_identity_provider() -> None:
    settings = PolarisHubSettings()
    assert settings.is_default_hub and not settings.idp_needs_discovery
    assert settings.authorize_url == "https://clerk.polarishub.io/oauth/authorize"
    explicit = PolarisHubSettings(hub_url="http://127.0.0.1:9/", authorize_url="http://127.0.0.1:9/oauth/authorize")
    assert not explicit.idp_needs_discovery  # a user who names the identity provider is taken at their word


def test_a_hub_without_discovery_is_refused_naming_the_variables() -> None:
    site = _HtmlSite(404)
    try:
        ui = _RecordingUI()
        client = PolarisHubClient(PolarisHubSettings(hub_url=site.url), cache_auth_token=False)
        with client, pytest.raises(IdentityProviderUnknownError) as err:
            client.login(ui=ui)
    finally:
        site.close()
    text = str(err.value)
    assert site.url in text and "does not say which identity provider it uses" in text
    for variable in ("POLARIS_AUTHORIZE_URL", "POLARIS_TOKEN_FETCH_URL", "POLARIS_USER_INFO_URL", "POLARIS_CLIENT_ID"):
        assert variable in text
    assert ui.urls == []  # no authorization URL of the real Hub's identity provider was shown
    assert site.paths == ["/.well-known/polaris-hub"]


def test_an_aborted_login_names_the_hub(local_hub: Any) -> None:
    client = PolarisHubClient(local_hub.settings(), cache_auth_token=False)
    with client, pytest.raises(PolarisUnauthorizedError) as err:
        client.login(ui=_RecordingUI())
    assert f"Login to {local_hub.url} aborted: no authorization code was given" in str(err.value)


# ------------------------------------------------------------------------------------------- cached login
def _password_login(hub: Any) -> PolarisHubSettings:
    settings: PolarisHubSettings = hub.settings(username="demo-user", password=hub.users["demo-user"])
    with PolarisHubClient(settings) as client:
        client.login()
    return settings


def test_a_corrupt_cached_login_is_reported_not_used_as_anonymous(local_hub: Any) -> None:
    cache = TokenCache(local_hub.url)
    _password_login(local_hub)
    cache.path.write_bytes(b"{ this is not json")
    with PolarisHubClient(local_hub.settings()) as client:
        with pytest.raises(CachedLoginError) as err:
            client.list_datasets()
        assert local_hub.url in str(err.value) and "corrupt" in str(err.value)
        assert "nothing was sent anonymously" in str(err.value) and "polaris login --overwrite" in str(err.value)
        with pytest.raises(CachedLoginError):
            client.whoami()
        assert client.logout() is True  # the way out the hint names works
    with PolarisHubClient(local_hub.settings()) as client:
        assert isinstance(client.list_datasets(), list)  # no login at all: anonymous reads are fine


def test_an_expired_cached_login_is_reported(local_hub: Any) -> None:
    _password_login(local_hub)
    cache = TokenCache(local_hub.url)
    data = json.loads(cache.path.read_bytes())
    data["hub_token"]["expires_at"] = int(time.time()) - 3600
    cache.path.write_text(json.dumps(data))
    client = PolarisHubClient(local_hub.settings())  # no password now: nothing can renew it
    with client, pytest.raises(CachedLoginError) as err:
        client.list_datasets()
    text = str(err.value)
    assert f"Your login to the Polaris Hub at {local_hub.url} expired at" in text and "cannot be renewed" in text


def test_whoami_asks_the_hub(local_hub: Any) -> None:
    _password_login(local_hub)
    cache = TokenCache(local_hub.url)
    data = json.loads(cache.path.read_bytes())
    data["hub_token"]["access_token"] = "garbage"
    cache.path.write_text(json.dumps(data))
    with PolarisHubClient(local_hub.settings()) as client, pytest.raises(PolarisUnauthorizedError) as err:
        client.whoami()
    assert f"The Polaris Hub at {local_hub.url} refused your login" in str(err.value)
    assert "login --overwrite" in str(err.value)


def test_not_logged_in_names_the_hub(local_hub: Any) -> None:
    with PolarisHubClient(local_hub.settings()) as client, pytest.raises(PolarisUnauthorizedError) as err:
        client.whoami()
    assert f"You are not logged in to the Polaris Hub at {local_hub.url}" in str(err.value)


# ------------------------------------------------------------------------------------------- not a Hub
def test_a_url_that_is_not_a_hub_says_so(html_site: _HtmlSite) -> None:
    with PolarisHubClient(PolarisHubSettings(hub_url=html_site.url), cache_auth_token=False) as client:
        with pytest.raises(NotAPolarisHubError) as err:
            client.list_datasets()
        text = str(err.value)
        assert "but not as a Polaris Hub does" in text and "text/html" in text and "POLARIS_HUB_URL" in text
        assert err.value.status_code == html_site.status
        assert "log in" not in text.lower() and "try again later" not in text.lower()
        with pytest.raises(NotAPolarisHubError) as err:
            client.get_dataset("someone/some-data")
        assert isinstance(err.value, ArtifactNotFoundError) == ("HTTP 404" in str(err.value))


# ------------------------------------------------------------------------------------------- competitions
def test_evaluate_competition_takes_owner_name_and_checks_predictions(hub_client: PolarisHubClient) -> None:
    competition = hub_client.get_competition(COMPETITION)
    size = competition.test_set_sizes["test"]
    with pytest.raises(InvalidPredictionsError) as err:
        hub_client.evaluate_competition(competition, [1, 2, 3])
    assert f"have length 3, expected {size}" in str(err.value) and err.value.test_set == "test"
    result = hub_client.evaluate_competition(COMPETITION, [0.0] * size)  # "owner/name" is what a user means
    assert result.competition_name == competition.name


def test_logging_in_to_a_url_that_is_not_a_hub_says_so(html_site: _HtmlSite) -> None:
    settings = PolarisHubSettings(hub_url=html_site.url, username="someone", password="pw")
    client = PolarisHubClient(settings, cache_auth_token=False)
    with client, pytest.raises(NotAPolarisHubError) as err:
        client.login()
    text = str(err.value)
    assert f"{html_site.url}api/auth/token" in text and "Polaris Hub" in text
    assert "try again later" not in text.lower()


def test_a_refused_password_names_the_token_endpoint(local_hub: Any) -> None:
    from polaris.errors import TokenExchangeError

    client = PolarisHubClient(local_hub.settings(username="demo-user", password="wrong"), cache_auth_token=False)
    with client, pytest.raises(TokenExchangeError) as err:
        client.login()
    assert f"Logging in with username and password at {local_hub.hub_token_url} failed" in str(err.value)


def test_whoami_after_an_accepted_request_sends_nothing_more(hub_client: PolarisHubClient) -> None:
    hub_client.list_datasets()  # the Hub answered a request carrying the current token
    sent: list[str] = []
    hub_client.event_hooks["request"].append(lambda request: sent.append(request.url.path))
    assert "demo-user" in hub_client.whoami()
    assert sent == []
    hub_client.list_datasets()
    assert sent  # the hook does see the client's requests
