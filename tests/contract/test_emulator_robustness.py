"""Requests the local Hub used to answer 500 (or that reached past its checks) now get a 2xx/4xx/501 answer.

Large offsets, non-UTF-8 JSON bodies, S3 operations outside the protocol, the direct S3 endpoint (off unless
``--expose-direct-s3``), and a Hub token that keeps working after logout (RFC 7009 revocation).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from polaris.testing import LocalHub, LocalHubError

pytestmark = pytest.mark.timeout(120)

HTTP_TIMEOUT = 30.0
BUCKET = "polaris-hub"
FREESOLV = "dataset/polaris-demo/freesolv"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, Signature=0"}
"""moto answers unsigned requests as anonymous (403); signatures themselves are not checked."""
LISTINGS = ("api/v1/dataset", "api/v1/benchmark", "api/v2/competition")
HUGE = ("9223372036854775808", "9223372036854775807", "99999999999999999999999999")
NOT_UTF8 = (b'{"name": "\xff\xfe"}', b"\xff\xfe\x00\x00", b'{"description": "caf\xe9"}')
DATASET_BODY = {
    "tableContent": {"size": 5, "fileType": "parquet", "md5Sum": "5d41402abc4b2a76b9719d911017c592"},
    "zarrContent": [], "access": "private", "name": "after-logout", "owner": "demo-user", "license": "MIT",
    "md5Sum": "b" * 32, "annotations": {}, "polarisVersion": "0.10.0",
}  # fmt: skip
JSON_BODY_OPERATIONS = (
    ("PUT", "api/v1/dataset/demo-user/robust-data"),
    ("PUT", "api/v2/dataset/demo-user/robust-data"),
    ("PUT", "api/v1/benchmark/demo-user/robust-bench"),
    ("POST", "api/v2/result"),
    ("PUT", "api/v2/competition/dataset/demo-user/robust-data"),
    ("PUT", "api/v2/competition/demo-user/robust-comp"),
    ("POST", "api/v2/competition/polaris-demo/freesolv-challenge/evaluate"),
)


def _hub_token(hub: LocalHub, user: str = "demo-user") -> str:
    form = {"grant_type": "password", "username": user, "password": hub.users[user]}
    response = httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _storage_exchange(hub: LocalHub, hub_token: str, resource: str, scope: str) -> httpx.Response:
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token": hub_token, "subject_token_type": TT_JWT,
            "requested_token_type": TT_JWT, "resource": resource, "scope": scope}  # fmt: skip
    return httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)


def _raw(endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    parts = urlsplit(endpoint)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _listening_ports(pid: int) -> set[int]:
    """TCP ports a process listens on (Linux: its socket inodes matched against /proc/net/tcp*)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture(scope="module")
def default_hub() -> Iterator[LocalHub]:
    """Started without --expose-direct-s3 (the default)."""
    with LocalHub(seed="demo") as hub:
        yield hub


# ------------------------------------------------------------------------------------------------ the API
@pytest.mark.parametrize("path", LISTINGS)
def test_huge_offsets_give_an_empty_page(local_hub: LocalHub, path: str) -> None:
    headers = {"Authorization": f"Bearer {_hub_token(local_hub)}"}
    for offset in HUGE:
        for auth in ({}, headers):
            r = httpx.get(local_hub.url + path, params={"offset": offset}, headers=auth, timeout=HTTP_TIMEOUT)
            assert r.status_code == 200, (offset, r.text)
            assert r.json()["data"] == [] and r.json()["metadata"]["offset"] == int(offset)
            assert r.json()["metadata"]["total"] >= 1
    for limit in HUGE:
        r = httpx.get(local_hub.url + path, params={"limit": limit}, timeout=HTTP_TIMEOUT)
        assert r.status_code == 400, (limit, r.text)


@pytest.mark.parametrize("validate", [True, False], ids=["spec-validation", "no-validation"])
def test_non_utf8_json_bodies_are_400(local_hub: LocalHub, local_hub_factory: Any, validate: bool) -> None:
    hub = local_hub if validate else local_hub_factory(seed="demo", extra_args=["--no-validate"])
    headers = {"Authorization": f"Bearer {_hub_token(hub)}", "Content-Type": "application/json"}
    for method, path in JSON_BODY_OPERATIONS:
        for body in NOT_UTF8:
            r = httpx.request(method, hub.url + path, content=body, headers=headers, timeout=HTTP_TIMEOUT)
            assert r.status_code == 400, (method, path, body, r.status_code, r.text)
            assert r.json()["message"]
    r = httpx.post(
        hub.hub_token_url,
        content=b"grant_type=password&username=demo-user&password=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


# ------------------------------------------------------------------------------------------------ storage
def test_unsupported_s3_operations_are_501_and_never_reach_moto(local_hub: LocalHub) -> None:
    token = _storage_exchange(local_hub, _hub_token(local_hub), "urn:polaris:dataset:polaris-demo:freesolv", "write")
    headers = {"x-amz-security-token": "jwt/" + token.json()["access_token"], **SIGNED}
    key = f"/{BUCKET}/{FREESOLV}/table.parquet"
    delete_xml = b"<Delete><Object><Key>dataset/polaris-demo/freesolv/table.parquet</Key></Object></Delete>"
    for method, path, body in (
        ("POST", key + "?delete", delete_xml),
        ("POST", key + "?restore", b""),
        ("POST", key, b""),
        ("PUT", key + "?acl", b""),
        ("PUT", key + "?tagging", b"<Tagging><TagSet/></Tagging>"),
        ("GET", key + "?tagging", b""),
        ("GET", key + "?acl", b""),
        ("POST", f"/{BUCKET}?delete", delete_xml),
        ("PUT", f"/{BUCKET}?versioning", b""),
    ):
        sent = {**headers, "Content-Length": str(len(body))}
        status, answer = _raw(local_hub.s3_endpoint, method, path, sent, body)
        assert status == 501, (method, path, status, answer)
        assert b"<Code>NotImplemented</Code>" in answer, answer
    # the table is still there and intact
    status, body = _raw(local_hub.s3_endpoint, "GET", key, headers)
    assert status == 200 and len(body) > 1000, body[:300]
    # a read token asking for a write operation is refused as before (403), not told it is unimplemented
    read = _storage_exchange(local_hub, _hub_token(local_hub), "urn:polaris:dataset:polaris-demo:freesolv", "read")
    read_headers = {"x-amz-security-token": "jwt/" + read.json()["access_token"], "Content-Length": "0"}
    assert _raw(local_hub.s3_endpoint, "POST", key + "?delete", read_headers)[0] == 403


def test_direct_s3_is_off_by_default(default_hub: LocalHub) -> None:
    with pytest.raises(LocalHubError, match="expose_direct_s3=True"):
        _ = default_hub.s3_direct_endpoint
    assert not any(line.startswith("S3 direct endpoint") for line in default_hub.output)
    assert default_hub.process is not None
    hub_port = urlsplit(default_hub.url).port
    gateway_port = urlsplit(default_hub.s3_endpoint).port
    internal = _listening_ports(default_hub.process.pid) - {hub_port, gateway_port}
    assert internal, "moto's port was not found"
    fake = SIGNED
    for port in internal:
        status, body = _raw(f"http://127.0.0.1:{port}/", "GET", f"/{BUCKET}/{FREESOLV}/table.parquet", fake)
        assert status == 403 and b"AccessDenied" in body, (port, status, body[:200])
        status, _ = _raw(f"http://127.0.0.1:{port}/", "PUT", f"/{BUCKET}/{FREESOLV}/table.parquet", fake, b"evil")
        assert status == 403
    # through the gateway, with a token, everything works
    token = _storage_exchange(default_hub, _hub_token(default_hub), "urn:polaris:dataset:polaris-demo:freesolv", "read")
    status, body = _raw(
        default_hub.s3_endpoint,
        "GET",
        f"/{BUCKET}/{FREESOLV}/table.parquet",
        {"x-amz-security-token": "jwt/" + token.json()["access_token"], **SIGNED},
    )
    assert status == 200 and body.startswith(b"PAR1")


def test_expose_direct_s3_opens_moto(local_hub: LocalHub) -> None:
    assert local_hub.s3_direct_endpoint  # the plugin's hub passes --expose-direct-s3
    fake = SIGNED
    status, body = _raw(local_hub.s3_direct_endpoint, "GET", f"/{BUCKET}/{FREESOLV}/table.parquet", fake)
    assert status == 200 and body.startswith(b"PAR1")


# ------------------------------------------------------------------------------------------------ logout
def test_revoked_hub_token_is_refused_everywhere_and_after_a_restart(local_hub_factory: Any, tmp_path: Path) -> None:
    options = {"seed": "demo", "data_dir": tmp_path / "hub-data"}
    hub = local_hub_factory(**options)
    token = _hub_token(hub)
    auth = {"Authorization": f"Bearer {token}"}
    listing = httpx.get(hub.url + "api/v1/dataset", headers=auth, timeout=HTTP_TIMEOUT)
    assert listing.status_code == 200
    storage = _storage_exchange(hub, token, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    assert storage.status_code == 200
    s3_headers = {"x-amz-security-token": "jwt/" + storage.json()["access_token"], **SIGNED}
    table = f"/{BUCKET}/{FREESOLV}/table.parquet"
    assert _raw(hub.s3_endpoint, "GET", table, s3_headers)[0] == 200

    other = _hub_token(hub)  # another session of the same user stays logged in
    r = httpx.post(hub.revocation_url, data={"token": token, "token_type_hint": "access_token",
                   "client_id": hub.client_id}, timeout=HTTP_TIMEOUT)  # fmt: skip
    assert r.status_code == 200 and r.content == b""

    def refused(hub: LocalHub) -> None:
        r = httpx.get(hub.url + "api/v1/dataset", headers=auth, timeout=HTTP_TIMEOUT)
        assert r.status_code == 401 and "revoked" in r.json()["message"], r.text
        r = httpx.put(hub.url + "api/v1/dataset/demo-user/after-logout", json=DATASET_BODY, headers=auth,
                      timeout=HTTP_TIMEOUT)  # fmt: skip
        assert r.status_code == 401, r.text
        r = _storage_exchange(hub, token, "urn:polaris:dataset:polaris-demo:freesolv", "read")
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
        assert httpx.get(hub.url + "api/v1/dataset", headers={"Authorization": f"Bearer {other}"},
                         timeout=HTTP_TIMEOUT).status_code == 200  # fmt: skip

    refused(hub)
    # a storage token exchanged from the revoked Hub token dies with it
    status, body = _raw(hub.s3_endpoint, "GET", table, s3_headers)
    assert status == 403 and b"AccessDenied" in body
    hub.stop()
    again = local_hub_factory(**options)  # the denylist is in SQLite
    refused(again)


def test_revocation_endpoint_follows_rfc_7009(local_hub: LocalHub) -> None:
    url = local_hub.revocation_url
    # unknown and malformed tokens: 200, nothing to do
    assert httpx.post(url, data={"token": "not-a-token"}, timeout=HTTP_TIMEOUT).status_code == 200
    r = httpx.post(url, data={"token_type_hint": "access_token"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    r = httpx.post(url, data={"token": "x", "client_id": "someone-else"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = httpx.post(url, content=b"token=\xff", headers={"Content-Type": "application/x-www-form-urlencoded"},
                   timeout=HTTP_TIMEOUT)  # fmt: skip
    assert r.status_code == 400
    r = httpx.post(url, json={"token": "x"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 400
    assert httpx.get(url, timeout=HTTP_TIMEOUT).status_code == 405


def _idp_tokens(hub: LocalHub) -> dict[str, Any]:
    """Access and refresh token of the identity provider, through the real code flow with PKCE."""
    from http_browser import Browser  # tests/ is on sys.path (conftest)

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": hub.client_id, "redirect_uri": hub.callback_url,
                       "scope": "openid profile email", "state": "st4te", "code_challenge": challenge,
                       "code_challenge_method": "S256"})  # fmt: skip
    browser = Browser("demo-user", hub.users["demo-user"])
    browser.run(f"{hub.authorize_url}?{query}")
    assert browser.redirect is not None
    code = parse_qs(urlsplit(browser.redirect).query)["code"][0]
    r = httpx.post(hub.token_fetch_url, data={"grant_type": "authorization_code", "code": code,
                   "redirect_uri": hub.callback_url, "client_id": hub.client_id, "code_verifier": verifier},
                   timeout=HTTP_TIMEOUT)  # fmt: skip
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_revoking_identity_provider_tokens(local_hub: LocalHub) -> None:
    hub = local_hub

    def userinfo(access: str) -> int:
        return httpx.get(
            hub.user_info_url, headers={"Authorization": f"Bearer {access}"}, timeout=HTTP_TIMEOUT
        ).status_code

    def refresh(refresh_token: str) -> httpx.Response:
        return httpx.post(hub.token_fetch_url, data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                          "client_id": hub.client_id}, timeout=HTTP_TIMEOUT)  # fmt: skip

    # revoking the refresh token ends the whole grant: no refresh, and its access token is dead too
    tokens = _idp_tokens(hub)
    assert userinfo(tokens["access_token"]) == 200
    r = httpx.post(hub.revocation_url, data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
                   timeout=HTTP_TIMEOUT)  # fmt: skip
    assert r.status_code == 200
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert userinfo(tokens["access_token"]) == 401

    # revoking an access token: it cannot be used or exchanged for a Hub token any more
    tokens = _idp_tokens(hub)
    assert (
        httpx.post(hub.revocation_url, data={"token": tokens["access_token"]}, timeout=HTTP_TIMEOUT).status_code == 200
    )
    assert userinfo(tokens["access_token"]) == 401
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": tokens["access_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "requested_token_type": TT_JWT,
    }
    exchange = httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)
    assert exchange.status_code == 400 and exchange.json()["error"] == "invalid_grant"
