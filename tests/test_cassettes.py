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
from urllib.parse import parse_qsl, urlencode

import pytest
import vcr

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


def recorder() -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORD else "none",
        match_on=["method", "path", "query"],
        filter_headers=["authorization", "cookie"],
        before_record_request=scrub_request,
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
    with recorder().use_cassette("password_login_and_listings.yaml") as cassette:
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
            assert cassette.all_played, "replay must use every recorded exchange"
        # The token request is kept, scrubbed: the Hub's password grant with the literal client_id=None.
        token_request = cassette.requests[0]
        assert token_request.path.endswith("/api/auth/token")
        form = dict(parse_qsl(token_request.body.decode()))
        assert form["grant_type"] == "password" and form["password"] == REDACTED and form["client_id"] == "None"
        assert all("authorization" not in {k.lower() for k in r.headers} for r in cassette.requests)


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
