"""Recorded client <-> Hub exchanges, replayed without a Hub; and a guard that no cassette holds a secret.

Normal runs replay ``tests/cassettes/*.yaml`` (no server, no network). To re-record against the local Hub::

    POLARIS_RECORD_CASSETTES=1 python -m pytest tests/test_cassettes.py

Recording scrubs Authorization/Cookie headers, the form fields password, subject_token, code, code_verifier and
refresh_token, and access_token/refresh_token in JSON answers. Requests match on method, path and query (the
local Hub's port changes from run to run).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import vcr

from polaris.artifacts import Model
from polaris.hub.client import PolarisHubClient
from polaris.hub.settings import PolarisHubSettings

CASSETTES = Path(__file__).parent / "cassettes"
RECORD = os.environ.get("POLARIS_RECORD_CASSETTES") == "1"
#: Host used on replay; never contacted (matching ignores host and port).
REPLAY_HUB_URL = "http://127.0.0.1:9/"
REDACTED = "REDACTED"
SECRET_FORM_FIELDS = ("password", "subject_token", "code", "code_verifier", "refresh_token", "client_secret")
SECRET_JSON_FIELDS = ("access_token", "refresh_token", "id_token")
KNOWN_PASSWORDS = ("demo-password", "other-password")
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}")


def scrub_request(request: Any) -> Any:
    body = request.body
    if body:
        text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
        content_type = (request.headers.get("content-type") or request.headers.get("Content-Type") or "").lower()
        if "x-www-form-urlencoded" in content_type:
            pairs = [
                (k, REDACTED if k in SECRET_FORM_FIELDS else v) for k, v in parse_qsl(text, keep_blank_values=True)
            ]
            request.body = urlencode(pairs).encode()
    return request


def _scrub_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_JSON_FIELDS and v else _scrub_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_json(v) for v in value]
    return value


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if not body:
        return response
    raw = body if isinstance(body, bytes) else str(body).encode()
    try:
        data = json.loads(raw)
    except ValueError:
        return response
    cleaned = json.dumps(_scrub_json(data)).encode()
    response["body"]["string"] = cleaned
    for name in list(response.get("headers", {})):
        if name.lower() == "content-length":
            response["headers"][name] = [str(len(cleaned))]
    for name in list(response.get("headers", {})):
        if name.lower() == "set-cookie":
            del response["headers"][name]
    return response


#: The identity provider's endpoints the *client* calls; its HTML pages are the browser's business, not recorded.
IDP_CLIENT_PATHS = ("/oauth/token", "/oauth/userinfo")


def scrub_client_request(request: Any) -> Any:
    """Scrub a request, or drop it (None) when a browser, not the client, made it (login and consent pages)."""
    path = urlsplit(request.uri).path
    if path.startswith(("/oauth/", "/oauth2/")) and path not in IDP_CLIENT_PATHS:
        return None
    return scrub_request(request)


def cassette(name: str) -> Any:
    """Use cassette ``name``: replayed normally; re-recorded from scratch with POLARIS_RECORD_CASSETTES=1."""
    if RECORD:
        (CASSETTES / name).unlink(missing_ok=True)  # "all" mode would append to the old recording
    return recorder().use_cassette(name)


def recorder() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORD else "none",
        match_on=["method", "path", "query"],
        filter_headers=["authorization", "cookie"],
        before_record_request=scrub_client_request,
        before_record_response=scrub_response,
        decode_compressed_response=True,
    )


@pytest.fixture()
def settings(request: pytest.FixtureRequest) -> PolarisHubSettings:
    if RECORD:
        hub = request.getfixturevalue("local_hub")
        result: PolarisHubSettings = hub.settings(username="demo-user", password=hub.users["demo-user"])
        return result
    return PolarisHubSettings(hub_url=REPLAY_HUB_URL, username="demo-user", password="demo-password")


def test_password_login_and_listings(settings: PolarisHubSettings) -> None:
    with cassette("password_login_and_listings.yaml") as tape:
        with PolarisHubClient(settings, cache_auth_token=False) as client:
            result = client.login()
            assert result.method == "password" and result.identity == "demo-user"
            datasets = client.list_datasets()
            assert "polaris-demo/freesolv" in datasets
            assert client.list_datasets(limit=1, offset=1) == datasets[1:2]
            assert "polaris-demo/freesolv-hydration-free-energy" in client.list_benchmarks()
            assert "polaris-demo/freesolv-challenge" in client.list_competitions()
            assert list(client.iter_competitions(page_size=1)) == client.list_competitions()
        if not RECORD:
            assert tape.all_played, "replay must use every recorded exchange"
        # The token request is kept, scrubbed: the Hub's password grant with the literal client_id=None.
        token_request = tape.requests[0]
        assert token_request.path.endswith("/api/auth/token")
        form = dict(parse_qsl(token_request.body.decode()))
        assert form["grant_type"] == "password" and form["password"] == REDACTED and form["client_id"] == "None"
        assert all("authorization" not in {k.lower() for k in r.headers} for r in tape.requests)


class _PastedCode:
    """Replay stand-in for the person who pastes the code shown on the Hub's callback page."""

    def open_url(self, url: str) -> None:
        self.url = url

    def ask_code(self) -> str:
        return REDACTED  # the recorded code was scrubbed; replay does not match on bodies


def test_pkce_login_with_pasted_code_and_listing(request: pytest.FixtureRequest) -> None:
    if RECORD:
        from http_browser import Browser, ScriptedUI  # tests/ is on sys.path (conftest)

        hub = request.getfixturevalue("local_hub")
        settings = hub.settings()  # callback on the Hub's own page: the code is pasted
        ui: Any = ScriptedUI(Browser("demo-user", hub.users["demo-user"]))
    else:
        settings = PolarisHubSettings(
            hub_url=REPLAY_HUB_URL,
            authorize_url=REPLAY_HUB_URL + "oauth/authorize",
            token_fetch_url=REPLAY_HUB_URL + "oauth/token",
            user_info_url=REPLAY_HUB_URL + "oauth/userinfo",
        )
        ui = _PastedCode()
    with cassette("pkce_login_and_listing.yaml") as tape:
        with PolarisHubClient(settings, cache_auth_token=False) as client:
            result = client.login(ui=ui)
            assert result.method != "password"
            assert "demo-user" in result.identity
            assert "polaris-demo/freesolv-hydration-free-energy" in client.list_benchmarks()
        if not RECORD:
            assert tape.all_played, "replay must use every recorded exchange"
        paths = [urlsplit(r.uri).path for r in tape.requests]
        # V2 benchmarks are listed first (0.11+); a Hub without that listing answers 404 and V1 follows
        assert paths[:3] == ["/oauth/token", "/api/auth/token", "/oauth/userinfo"], paths
        assert paths[3:] in (["/api/v2/benchmark", "/api/v1/benchmark"], ["/api/v2/benchmark"]), paths
        code_request = dict(parse_qsl(tape.requests[0].body.decode()))
        assert code_request["grant_type"] == "authorization_code"
        assert code_request["code"] == REDACTED and code_request["code_verifier"] == REDACTED
        exchange = dict(parse_qsl(tape.requests[1].body.decode()))
        assert exchange["subject_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
        assert exchange["subject_token"] == REDACTED and exchange["client_id"] == "None"


def test_no_cassette_contains_a_secret() -> None:
    files = sorted(CASSETTES.glob("*.yaml"))
    assert files, "no cassettes recorded; run with POLARIS_RECORD_CASSETTES=1"
    for path in files:
        text = path.read_text()
        for password in KNOWN_PASSWORDS:
            assert password not in text, f"{path.name} contains a password"
        assert not JWT_RE.search(text), f"{path.name} contains something that looks like a JWT"
        assert not re.search(r"(?i)bearer\s+(?!REDACTED)[A-Za-z0-9._-]{8,}", text), f"{path.name} has a bearer token"
        assert not re.search(r"(?im)^\s*-?\s*authorization:", text), f"{path.name} keeps an Authorization header"


def test_scrubbers() -> None:
    from vcr.request import Request

    request = Request(
        "POST",
        "http://h/api/auth/token",
        b"grant_type=password&username=u&password=demo-password&client_id=None",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    scrubbed = scrub_request(request).body.decode()
    assert "demo-password" not in scrubbed and "password=REDACTED" in scrubbed and "username=u" in scrubbed
    answer = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Length": ["10"], "set-cookie": ["sid=1"]},
        "body": {"string": json.dumps({"access_token": "eyJabc.def.ghi", "expires_in": 60}).encode()},
    }
    cleaned = scrub_response(answer)
    assert b"eyJ" not in cleaned["body"]["string"]
    assert cleaned["headers"]["Content-Length"] == [str(len(cleaned["body"]["string"]))]
    assert "set-cookie" not in cleaned["headers"]


# ---------------------------------------------------------------------------------------------- 0.11-0.13 exchanges
# V2 listings, V2 benchmark, models, 0.11 competition, anonymous reads (cassette hub_generations.yaml).
DEMO_V2_BENCHMARK = "polaris-demo/freesolv-zarr-expt"
DEMO_MODEL = "polaris-demo/freesolv-linear-baseline"


@pytest.fixture()
def hub_settings(request: pytest.FixtureRequest) -> tuple[PolarisHubSettings, PolarisHubSettings]:
    """(anonymous settings, password-login settings)."""
    if RECORD:
        hub = request.getfixturevalue("local_hub")
        return hub.settings(), hub.settings(username="demo-user", password=hub.users["demo-user"])
    return (
        PolarisHubSettings(hub_url=REPLAY_HUB_URL),
        PolarisHubSettings(hub_url=REPLAY_HUB_URL, username="demo-user", password="demo-password"),
    )


def test_new_generation_exchanges(hub_settings: tuple[PolarisHubSettings, PolarisHubSettings]) -> None:
    anonymous_settings, login_settings = hub_settings
    with cassette("hub_generations.yaml") as tape:
        with PolarisHubClient(anonymous_settings, cache_auth_token=False) as anonymous:
            datasets = anonymous.list_artifacts("dataset")
            assert datasets[0].version == 2 and "polaris-demo/freesolv-zarr" in [d.artifact_id for d in datasets]
            assert "polaris-demo/freesolv" in [d.artifact_id for d in datasets if d.version == 1]
            benchmarks = anonymous.list_benchmarks()
            assert benchmarks[0] == DEMO_V2_BENCHMARK
            raw = anonymous._wire.benchmarks.get_benchmark_v2(*DEMO_V2_BENCHMARK.split("/"))
            assert set(raw["split"]) == {"training", "test"}
            assert all(str(url).startswith("http") for url in raw["split"].values())  # public: direct URLs
            assert set(raw["splitContent"]["test"]) >= {"datapoints", "md5Checksum"}
            assert anonymous.get_model(DEMO_MODEL).artifact_id == DEMO_MODEL
            assert DEMO_MODEL in anonymous.list_models()
            raw_comp = anonymous._wire.competitions.get_competition_v1("polaris-demo", "freesolv-zarr-challenge")
            assert raw_comp["startTime"] and raw_comp["endTime"]
        with PolarisHubClient(login_settings, cache_auth_token=False) as client:
            client.login()
            answer = client.upload_model(Model(name="cassette-model", owner="demo-user", description="recorded"))
            assert answer["slug"] == "cassette-model"
            assert client.get_model("demo-user/cassette-model").description == "recorded"
        if not RECORD:
            assert tape.all_played, "replay must use every recorded exchange"
        paths = [f"{r.method} {urlsplit(r.uri).path}" for r in tape.requests]
        assert paths[:2] == ["GET /api/v2/dataset", "GET /api/v1/dataset"], paths
        assert "PUT /api/v2/model/demo-user/cassette-model" in paths
        anonymous_calls = [r for r in tape.requests if urlsplit(r.uri).path != "/api/auth/token"][:7]
        assert all("authorization" not in {k.lower() for k in r.headers} for r in anonymous_calls)
