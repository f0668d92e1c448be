"""Single-object PUTs go through the SigV4 + urllib3 writer, against the local Hub's real gateway and moto.

What is sent is captured by wrapping the writer's urllib3 pool (the request still goes to the real gateway); what
was stored is read behind the gateway, from moto itself.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
import zarr
from botocore.config import Config
from botocore.exceptions import ClientError

from polaris.errors import ArtifactExistsError, ObjectConflictError, PartialUploadError, StorageError
from polaris.hub.storage import StorageSession, StorageToken, stage_zarr
from polaris.hub.storage.constants import READ_WHOLE_MAX
from polaris.hub.storage.endpoint import UNSIGNED_PAYLOAD, Endpoint
from polaris.testing import LocalHub

pytestmark = pytest.mark.timeout(180)

BUCKET = "polaris-hub"
RESOURCE = "urn:polaris:dataset:polaris-demo:freesolv"
PREFIX = "dataset/polaris-demo/freesolv"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
SHORT_TTL = 2


@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub(seed="demo", expose_direct_s3=True) as started:
        yield started


def _token_payload(hub: LocalHub, *, hide_expiry: bool = False) -> dict[str, Any]:
    form = {"grant_type": "password", "username": "demo-user", "password": hub.users["demo-user"]}
    hub_token = httpx.post(hub.hub_token_url, data=form, timeout=30).raise_for_status().json()["access_token"]
    exchange = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": hub_token,
        "subject_token_type": TT_JWT,
        "requested_token_type": TT_JWT,
        "resource": RESOURCE,
        "scope": "write",
    }
    payload = dict(httpx.post(hub.hub_token_url, data=exchange, timeout=30).raise_for_status().json())
    if hide_expiry:
        payload.pop("expires_in", None)  # only the gateway's ExpiredToken can tell the client
    return payload


class Provider:
    def __init__(self, hub: LocalHub, *, hide_expiry: bool = False) -> None:
        self.hub = hub
        self.hide_expiry = hide_expiry
        self.issued: list[StorageToken] = []

    def __call__(self) -> StorageToken:
        self.issued.append(StorageToken.from_response(_token_payload(self.hub, hide_expiry=self.hide_expiry)))
        return self.issued[-1]


def _direct(hub: LocalHub) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=hub.s3_direct_endpoint,
        aws_access_key_id="x",
        aws_secret_access_key="x",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def _stored(hub: LocalHub, key: str) -> tuple[bytes, dict[str, str]] | None:
    try:
        got = _direct(hub).get_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return None
    return got["Body"].read(), dict(got["Metadata"])


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every PUT the writer hands to urllib3 (path, signed headers, status), still sent for real."""
    captured: list[dict[str, Any]] = []
    original = Endpoint._urlopen

    def recording(self: Endpoint, method: str, path: str, headers: dict[str, str], body: Any) -> Any:
        response = original(self, method, path, headers, body)
        if method == "PUT":
            captured.append({"path": path, "headers": dict(headers), "status": response.status, "body": type(body)})
        return response

    monkeypatch.setattr(Endpoint, "_urlopen", recording)
    return captured


def _key() -> str:
    return f"{PREFIX}/put-{uuid.uuid4().hex[:10]}"


def _signature_is_valid(token: StorageToken, endpoint: str, path: str, headers: dict[str, str]) -> bool:
    """Recompute the SigV4 signature of a captured request with botocore's reference signer."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    authorization = headers["Authorization"]
    match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
                         authorization)  # fmt: skip
    assert match, authorization
    unsigned = {k: v for k, v in headers.items() if k != "Authorization"}
    request = AWSRequest(method="PUT", url=endpoint.rstrip("/") + path, headers=unsigned)
    request.context["timestamp"] = headers["X-Amz-Date"]
    auth = S3SigV4Auth(Credentials(token.key, token.secret, token.session_token), "s3", "us-east-1")
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    return bool(expected == match.group(3) and auth.signed_headers(auth.headers_to_sign(request)) == match.group(2))


# ------------------------------------------------------------------------------------------------ wire format
def test_put_is_sigv4_signed_with_unsigned_payload_and_signed_content_md5(
    hub: LocalHub, sent: list[dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    small = b"small object " * 50
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(READ_WHOLE_MAX * 3 + 17))  # above READ_WHOLE_MAX: streamed from the file
    provider = Provider(hub)
    small_key, big_key = _key() + ".bin", _key() + ".bin"
    with caplog.at_level(logging.DEBUG), StorageSession(provider, progress=False) as session:
        session.upload_file(f"s3://{BUCKET}/{small_key}", small)
        session.upload_file(f"s3://{BUCKET}/{big_key}", big, content_type="application/x-test")
        token = session.token
    assert [s["status"] for s in sent] == [200, 200]
    assert sent[0]["body"] is bytes and sent[1]["body"] is not bytes  # the big one went as a file, not in memory
    for request, data in zip(sent, (small, big.read_bytes()), strict=True):
        headers = request["headers"]
        md5 = hashlib.md5(data)
        assert headers["X-Amz-Content-SHA256"] == UNSIGNED_PAYLOAD
        assert headers["Content-MD5"] == base64.b64encode(md5.digest()).decode()
        assert headers["x-amz-meta-md5sum"] == md5.hexdigest()
        assert headers["X-Amz-Security-Token"] == token.session_token
        assert "If-None-Match" not in headers  # if_exists="replace"
        signed = re.search(r"SignedHeaders=([^,]+)", headers["Authorization"])
        assert signed is not None
        for name in ("content-md5", "content-type", "x-amz-content-sha256", "x-amz-meta-md5sum", "host"):
            assert name in signed.group(1).split(";"), signed.group(1)
        assert _signature_is_valid(token, token.endpoint, request["path"], headers)
    assert sent[1]["headers"]["Content-Type"] == "application/x-test"
    assert _stored(hub, small_key) == (small, {"md5sum": hashlib.md5(small).hexdigest()})
    stored_big = _stored(hub, big_key)
    assert stored_big is not None and stored_big[0] == big.read_bytes()
    # no secret in any DEBUG line of the new path (urllib3 logs each request line)
    text = caplog.text
    assert "urllib3" in {r.name.split(".")[0] for r in caplog.records}
    for secret in (token.secret, token.session_token, token.session_token.removeprefix("jwt/")):
        assert secret and secret not in text


# ------------------------------------------------------------------------------------------------ integrity
def test_a_file_changed_after_hashing_is_refused_by_content_md5_and_not_stored(hub: LocalHub, tmp_path: Path) -> None:
    root = tmp_path / "data.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    rng = np.random.default_rng(7)
    # chunks of 256 KiB of random float64 (incompressible): larger than what is kept in memory while hashing
    group.create_array("x", shape=(4 * 32768,), chunks=(32768,), dtype="float64", compressors=None)[:] = rng.random(
        4 * 32768
    )
    staged = stage_zarr(root, tmp_path / "staging")
    staged.entries()  # hashed now
    changed = root / "x" / "2"
    assert changed.stat().st_size > 64 * 1024
    changed.write_bytes(rng.random(32768).tobytes())  # same size, other bytes: a write while uploading
    store_key = _key() + ".zarr"
    with StorageSession(Provider(hub), progress=False) as session, pytest.raises(PartialUploadError) as info:
        session.upload_zarr(root, f"s3://{BUCKET}/{store_key}", staged=staged)
    assert info.value.missing == ["x/2"]
    cause = info.value.__cause__
    assert isinstance(cause, StorageError) and "BadDigest" in str(cause)
    assert "did a file change" in (cause.hint or "")
    assert _stored(hub, f"{store_key}/x/2") is None  # nothing stored under the wrong md5
    assert _stored(hub, f"{store_key}/x/1") is not None


def test_gateway_refuses_a_malformed_or_wrong_content_md5(hub: LocalHub) -> None:
    provider = Provider(hub)
    key = _key()
    with StorageSession(provider, progress=False) as session:
        _, writer = session._get_writer()
        from polaris.hub.storage import parse_url

        loc = parse_url(f"s3://{BUCKET}/{key}")
        with pytest.raises(ClientError) as info:
            writer.put(loc, b"actual bytes", size=12, md5_hex=hashlib.md5(b"other bytes!").hexdigest(),
                       content_type="application/octet-stream")  # fmt: skip
        assert info.value.response["Error"]["Code"] == "BadDigest"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError) as info:
            writer.put(loc, b"", size=0, md5_hex=hashlib.md5(b"x").hexdigest(), content_type="text/plain")
        assert info.value.response["Error"]["Code"] == "BadDigest"
        with pytest.raises(ClientError) as info:
            writer.put(loc, b"abc", size=3, md5_hex="00", content_type="text/plain")
        assert info.value.response["Error"]["Code"] == "InvalidDigest"
    assert _stored(hub, key) is None


# ------------------------------------------------------------------------------------------------ if_exists
def test_if_exists_raise_and_skip_behave_as_before(hub: LocalHub, sent: list[dict[str, Any]]) -> None:
    url = f"s3://{BUCKET}/{_key()}.bin"
    with StorageSession(Provider(hub), progress=False) as session:
        assert session.upload_file(url, b"first").uploaded == 1
        with pytest.raises(ArtifactExistsError) as exists:
            session.upload_file(url, b"second", if_exists="raise")
        assert not isinstance(exists.value, ObjectConflictError)
        assert sent[-1]["status"] == 412 and sent[-1]["headers"]["If-None-Match"] == "*"
        before = len(sent)
        assert session.upload_file(url, b"first", if_exists="skip").skipped == 1  # HEAD: same md5, nothing sent
        assert len(sent) == before
        with pytest.raises(ObjectConflictError):
            session.upload_file(url, b"differs", if_exists="skip")
        assert session.read_bytes(url) == b"first"


def test_skip_without_head_meets_412_and_keeps_equal_objects(
    hub: LocalHub, sent: list[dict[str, Any]], tmp_path: Path
) -> None:
    root = tmp_path / "a.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(40,), chunks=(8,), dtype="int64")[:] = np.arange(40)
    store = f"s3://{BUCKET}/{_key()}.zarr"
    with StorageSession(Provider(hub), progress=False) as session:
        first = session.upload_zarr(root, store)
        staged = stage_zarr(root, tmp_path / "staging")
        sent.clear()
        # ``only``: the caller compared already, so no HEAD before each conditional PUT; every one meets a 412
        again = session.upload_zarr(root, store, if_exists="skip", staged=staged, only=list(staged.files))
        assert again.uploaded == 0 and again.skipped == first.uploaded
        assert sent and all(s["status"] == 412 and s["headers"]["If-None-Match"] == "*" for s in sent)
        with pytest.raises(ArtifactExistsError):
            session.upload_zarr(root, store, if_exists="raise")


# ------------------------------------------------------------------------------------------------ renewal
def test_expired_token_on_a_streamed_put_is_renewed(tmp_path: Path) -> None:
    """The gateway refuses an expired token before reading a large body; the writer still sees the answer."""
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 * 1024 * 1024))
    with LocalHub(seed="demo", token_ttl=SHORT_TTL, expose_direct_s3=True) as short:
        provider = Provider(short, hide_expiry=True)
        key = _key() + ".bin"
        with StorageSession(provider, progress=False) as session:
            session.upload_file(f"s3://{BUCKET}/{key}", b"warm up")  # the first token works
            time.sleep(SHORT_TTL + 1.1)
            session.upload_file(f"s3://{BUCKET}/{key}", big)  # 400 ExpiredToken, renewed, sent again
        assert len(provider.issued) == 2
        stored = _stored(short, key)
        assert stored is not None and stored[0] == big.read_bytes()


def test_a_small_file_changed_after_hashing_uploads_the_hashed_bytes(hub: LocalHub, tmp_path: Path) -> None:
    """Small files are sent from the bytes read while hashing them: the stored object always matches the manifest."""
    root = tmp_path / "small.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    group.create_array("x", shape=(32,), chunks=(8,), dtype="int64", compressors=None)[:] = np.arange(32)
    staged = stage_zarr(root, tmp_path / "staging")
    hashed = {e.path: e for e in staged.entries()}
    before = (root / "x" / "1").read_bytes()
    (root / "x" / "1").write_bytes(b"changed after hashing!" * 3)
    store_key = _key() + ".zarr"
    with StorageSession(Provider(hub), progress=False) as session:
        report = session.upload_zarr(root, f"s3://{BUCKET}/{store_key}", staged=staged)
    assert report.uploaded == len(hashed)
    stored = _stored(hub, f"{store_key}/x/1")
    assert stored == (before, {"md5sum": hashed["x/1"].md5sum})
    assert hashlib.md5(before).hexdigest() == hashed["x/1"].md5sum


def test_multipart_parts_go_unsigned_payload_with_content_md5_through_the_gateway(
    hub: LocalHub, tmp_path: Path
) -> None:
    from polaris.hub.storage import MULTIPART_THRESHOLD

    big = tmp_path / "table.parquet"
    big.write_bytes(os.urandom(MULTIPART_THRESHOLD + 4096))
    key = _key() + ".parquet"
    seen: list[tuple[str, dict[str, str]]] = []

    def capture(request: Any, **_: Any) -> None:
        headers = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        seen.append((request.method, headers))

    with StorageSession(Provider(hub), progress=False) as session:
        _, s3 = session._boto()
        s3.meta.events.register("before-send.s3", capture)
        session.upload_file(f"s3://{BUCKET}/{key}", big)
    parts = [headers for method, headers in seen if method == "PUT"]
    assert len(parts) == 2
    for headers in parts:
        assert headers["x-amz-content-sha256"] == UNSIGNED_PAYLOAD  # no SHA-256 of the part, even over http
        assert "content-md5" in headers and "content-md5" in headers["authorization"]
    stored = _stored(hub, key)
    assert stored == (big.read_bytes(), {"md5sum": hashlib.md5(big.read_bytes()).hexdigest()})


def test_a_streamed_file_sends_exactly_its_declared_length(hub: LocalHub, tmp_path: Path) -> None:
    """A file that shrank fails at once (no stall); one that grew sends only the length its md5 covers."""
    from polaris.hub.storage import parse_url

    path = tmp_path / "f.bin"
    data = os.urandom(READ_WHOLE_MAX * 2)
    md5 = hashlib.md5(data).hexdigest()
    shrunk, grown = _key(), _key()
    with StorageSession(Provider(hub), progress=False) as session:
        _, writer = session._get_writer()
        path.write_bytes(data[:READ_WHOLE_MAX])
        started = time.monotonic()
        with pytest.raises(StorageError, match="shrank"):
            writer.put(parse_url(f"s3://{BUCKET}/{shrunk}"), path, size=len(data), md5_hex=md5, content_type="x/y")
        assert time.monotonic() - started < 5
        path.write_bytes(data + b"appended later")
        writer.put(parse_url(f"s3://{BUCKET}/{grown}"), path, size=len(data), md5_hex=md5, content_type="x/y")
        writer.put(parse_url(f"s3://{BUCKET}/{grown}.2"), b"next", size=4, md5_hex=hashlib.md5(b"next").hexdigest(),
                   content_type="x/y")  # fmt: skip
    assert _stored(hub, shrunk) is None
    assert _stored(hub, grown) == (data, {"md5sum": md5})
    assert _stored(hub, grown + ".2") == (b"next", {"md5sum": hashlib.md5(b"next").hexdigest()})
