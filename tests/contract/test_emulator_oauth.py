"""The local Hub's identity provider over real HTTP: the PKCE code flow driven through the HTML pages with httpx,
refresh-token rotation, userinfo and the RFC 8693 exchange for a Hub token."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from polaris.testing import LocalHub

HTTP_TIMEOUT = 30.0
CLIENT_ID = "agQP2xVM6JqMHvGc"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_ACCESS = "urn:ietf:params:oauth:token-type:access_token"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
LOOPBACK_REDIRECT = "http://127.0.0.1:53682/callback"


@pytest.fixture(scope="module")
def hub(_polaris_session_hub: LocalHub) -> LocalHub:
    return _polaris_session_hub


@pytest.fixture
def browser(hub: LocalHub) -> Iterator[httpx.Client]:
    """A cookie-keeping HTTP client that does not follow redirects (we inspect each hop)."""
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT, follow_redirects=False) as client:
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)[:64]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_params(redirect_uri: str, challenge: str | None, state: str = "st4te-xyz") -> dict[str, str]:
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": redirect_uri,
              "scope": "profile email", "state": state}  # fmt: skip
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return params


def login_and_consent(
    browser: httpx.Client,
    params: dict[str, str],
    *,
    user: str = "demo-user",
    password: str = "demo-password",
    decision: str = "allow",
) -> httpx.Response:
    """GET /authorize -> login form -> POST login -> consent page -> POST decision; returns the final redirect."""
    page = browser.get("oauth/authorize", params=params)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    nxt = re.search(r'name="next" value="([^"]*)"', page.text)
    assert nxt is not None
    import html

    logged_in = browser.post(
        "oauth/login", data={"username": user, "password": password, "next": html.unescape(nxt.group(1))}
    )
    assert logged_in.status_code == 303
    consent = browser.get(logged_in.headers["location"])
    assert consent.status_code == 200 and "Authorize access" in consent.text and user in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', consent.text))
    fields = {k: html.unescape(v) for k, v in fields.items()}
    fields["decision"] = decision
    return browser.post("oauth/authorize", data=fields)


def exchange_code(http: httpx.Client, code: str, verifier: str, redirect_uri: str) -> httpx.Response:
    return http.post(
        "oauth/token",
        data={
            "grant_type": "authorization_code",
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "code": code,
            "client_id": CLIENT_ID,
        },
    )


def test_code_flow_to_loopback_redirect_and_hub_token(browser: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    final = login_and_consent(browser, authorize_params(LOOPBACK_REDIRECT, challenge))
    assert final.status_code == 302
    location = urlsplit(final.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == LOOPBACK_REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st4te-xyz"]
    token = exchange_code(browser, query["code"][0], verifier, LOOPBACK_REDIRECT)
    assert token.status_code == 200, token.text
    tok = token.json()
    assert tok["token_type"] == "Bearer" and tok["refresh_token"] and tok["expires_in"] > 0
    info = browser.get("oauth/userinfo", headers={"authorization": f"Bearer {tok['access_token']}"})
    assert info.status_code == 200 and info.json()["email"] == "demo-user@example.org"
    hub = browser.post(
        "api/auth/token",
        data={
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": tok["access_token"],
            "subject_token_type": TT_ACCESS,
            "requested_token_type": TT_JWT,
            "client_id": "None",
        },
    )
    assert hub.status_code == 200, hub.text
    hub_tok = hub.json()
    assert "refresh_token" not in hub_tok and hub_tok["issued_token_type"] == TT_JWT
    # the Hub token works on the API: demo-user sees the private artifacts of its organization's list
    listed = browser.get("api/v1/dataset", headers={"Authorization": f"Bearer {hub_tok['access_token']}"})
    assert listed.status_code == 200


def test_callback_page_shows_code(browser: httpx.Client, hub: LocalHub) -> None:
    verifier, challenge = pkce_pair()
    final = login_and_consent(browser, authorize_params(hub.callback_url, challenge))
    assert final.headers["location"].startswith(hub.callback_url)
    page = browser.get(final.headers["location"])
    code = parse_qs(urlsplit(final.headers["location"]).query)["code"][0]
    assert page.status_code == 200 and f'<p class="code" id="code">{code}</p>' in page.text
    assert exchange_code(browser, code, verifier, hub.callback_url).status_code == 200


def test_wrong_verifier_is_invalid_grant(browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    final = login_and_consent(browser, authorize_params(LOOPBACK_REDIRECT, challenge))
    code = parse_qs(urlsplit(final.headers["location"]).query)["code"][0]
    r = exchange_code(browser, code, other_verifier, LOOPBACK_REDIRECT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_cannot_be_reused(browser: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    final = login_and_consent(browser, authorize_params(LOOPBACK_REDIRECT, challenge))
    code = parse_qs(urlsplit(final.headers["location"]).query)["code"][0]
    assert exchange_code(browser, code, verifier, LOOPBACK_REDIRECT).status_code == 200
    again = exchange_code(browser, code, verifier, LOOPBACK_REDIRECT)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "change",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain"},
        {"redirect_uri": "http://evil.example.com/cb"},
        {"client_id": "someone-else"},
        {"response_type": "token"},
    ],
)
def test_bad_authorize_requests_are_refused_at_authorize(browser: httpx.Client, change: dict[str, str | None]) -> None:
    _, challenge = pkce_pair()
    params = authorize_params(LOOPBACK_REDIRECT, challenge)
    for key, value in change.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    r = browser.get("oauth/authorize", params=params)
    assert r.status_code == 400 and 'name="password"' not in r.text


def test_deny_redirects_with_access_denied(browser: httpx.Client) -> None:
    _, challenge = pkce_pair()
    final = login_and_consent(browser, authorize_params(LOOPBACK_REDIRECT, challenge), decision="deny")
    query = parse_qs(urlsplit(final.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st4te-xyz"]


def test_wrong_password_on_login_page(browser: httpx.Client) -> None:
    r = browser.post("oauth/login", data={"username": "demo-user", "password": "nope", "next": ""})
    assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "polaris_emulator_session" not in r.headers.get("set-cookie", "")


def test_refresh_rotates_and_old_refresh_token_dies(browser: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    final = login_and_consent(browser, authorize_params(LOOPBACK_REDIRECT, challenge))
    code = parse_qs(urlsplit(final.headers["location"]).query)["code"][0]
    first = exchange_code(browser, code, verifier, LOOPBACK_REDIRECT).json()
    refreshed = browser.post(
        "oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "scope": "profile email",
            "client_id": CLIENT_ID,
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    reuse = browser.post(
        "oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": CLIENT_ID},
    )
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # the old access token was revoked with its refresh token; the new one works
    assert (
        browser.get("oauth/userinfo", headers={"authorization": f"Bearer {first['access_token']}"}).status_code == 401
    )
    assert (
        browser.get("oauth/userinfo", headers={"authorization": f"Bearer {second['access_token']}"}).status_code == 200
    )


def test_expired_tokens_are_refused(local_hub_factory: object) -> None:
    hub = local_hub_factory(users={"alice-user": "alice-password"}, token_ttl=1)  # type: ignore[operator]
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
        tok = http.post(
            "api/auth/token",
            data={
                "grant_type": "password",
                "username": "alice-user",
                "password": "alice-password",
                "client_id": "None",
            },
        ).json()
        assert tok["expires_in"] == 1
        auth = {"Authorization": f"Bearer {tok['access_token']}"}
        assert http.get("api/v1/dataset", headers=auth).status_code == 200
        time.sleep(2.2)
        r = http.get("api/v1/dataset", headers=auth)
        assert r.status_code == 401 and "expired" in r.json()["message"]
        storage = http.post(
            "api/auth/token",
            data={
                "grant_type": TOKEN_EXCHANGE,
                "subject_token": tok["access_token"],
                "subject_token_type": TT_JWT,
                "resource": "urn:polaris:dataset:a:b",
                "scope": "read",
                "client_id": "None",
            },
        )
        assert storage.status_code == 400 and storage.json()["error"] == "invalid_grant"
