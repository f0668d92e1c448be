"""The local Hub's S3 gateway checks storage tokens on every request (like R2 does), over real HTTP.

Raw requests go through boto3 / http.client against the gateway (``hub.s3_endpoint``); what really landed in the
bucket is checked behind the gateway through moto itself (``hub.s3_direct_endpoint``). The last tests drive the real
``PolarisHubClient`` through a Hub whose tokens live two seconds.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import httpx
import numpy as np
import pandas as pd
import pytest
import zarr
from botocore.config import Config
from botocore.exceptions import ClientError
from joserfc import jwt
from joserfc.jwk import OctKey

from polaris.artifacts import DatasetV1
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.hub.client import PolarisHubClient
from polaris.hub.storage import TOKEN_EXPIRY_LEEWAY, StorageSession, StorageToken
from polaris.testing import LocalHub

pytestmark = pytest.mark.timeout(180)

BUCKET = "polaris-hub"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
TT_JWT = "urn:ietf:params:oauth:token-type:jwt"
FREESOLV = "dataset/polaris-demo/freesolv"
FREESOLV_ZARR = "dataset/polaris-demo/freesolv-zarr"
HTTP_TIMEOUT = 30.0
SHORT_TTL = 2
# The client renews a token TOKEN_EXPIRY_LEEWAY seconds before it expires, or in the last third of the life of a
# token shorter-lived than that: a 3 s token is used for 2 s, then renewed before the storage would refuse it.
EARLY_TTL = 3
EARLY_USE = EARLY_TTL * 2 / 3
assert EARLY_TTL / 3 < TOKEN_EXPIRY_LEEWAY
N_CHUNKS = 800  # Zarr chunks of the slow upload
STORAGE_LATENCY_MS = 40
"""The token-life hubs delay every storage request: 800 objects over 8 connections take >= 100 x 40 ms = 4 s, longer
than either token's life, however fast the machine (the client's concurrency is capped at 8 for that:
``storage_max_concurrency``; uncapped, the adaptive limit would finish within one token's life)."""
TOKEN_LIFE_CONCURRENCY = 8


_SLOW_STORAGE = ["--storage-latency-ms", str(STORAGE_LATENCY_MS)]


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def hub() -> Iterator[LocalHub]:
    with LocalHub(seed="demo", expose_direct_s3=True) as started:  # tests look behind the gateway
        yield started


@pytest.fixture(scope="module")
def short_hub() -> Iterator[LocalHub]:
    with LocalHub(seed="demo", token_ttl=SHORT_TTL, expose_direct_s3=True, extra_args=_SLOW_STORAGE) as started:
        yield started


@pytest.fixture(scope="module")
def early_hub() -> Iterator[LocalHub]:
    with LocalHub(seed="demo", token_ttl=EARLY_TTL, expose_direct_s3=True, extra_args=_SLOW_STORAGE) as started:
        yield started


def _hub_token(hub: LocalHub, user: str = "demo-user") -> str:
    form = {"grant_type": "password", "username": user, "password": hub.users[user]}
    response = httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)
    response.raise_for_status()
    return str(response.json()["access_token"])


def _storage_token(hub: LocalHub, resource: str, scope: str, user: str = "demo-user") -> dict[str, Any]:
    form = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": _hub_token(hub, user),
        "subject_token_type": TT_JWT,
        "requested_token_type": TT_JWT,
        "resource": resource,
        "scope": scope,
    }
    response = httpx.post(hub.hub_token_url, data=form, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _s3(endpoint: str, session_token: str | None = None, key: str = "polaris-demo-user", secret: str = "s") -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=session_token,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


def _s3_for(token: dict[str, Any]) -> Any:
    extra = token["extra_data"]
    return _s3(extra["endpoint"], "jwt/" + token["access_token"], extra["key"], extra["secret"])


def _direct(hub: LocalHub) -> Any:
    return _s3(hub.s3_direct_endpoint, key="x", secret="x")


def _error(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return int(response["ResponseMetadata"]["HTTPStatusCode"]), str(response["Error"]["Code"])


def _exists(client: Any, key: str) -> bool:
    try:
        client.head_object(Bucket=BUCKET, Key=key)
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        return False
    return True


def _raw(endpoint: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:
    """One request with http.client (no URL normalisation, exact headers)."""
    parts = urlsplit(endpoint)
    assert parts.hostname is not None
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ banner
def test_banner_points_tokens_at_the_gateway(hub: LocalHub) -> None:
    assert hub.s3_endpoint and hub.s3_direct_endpoint and hub.s3_endpoint != hub.s3_direct_endpoint
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    assert token["extra_data"]["endpoint"] == hub.s3_endpoint


# ------------------------------------------------------------------------------------------------ read scope
def test_read_token_gets_and_lists_its_dataset_but_cannot_put(hub: LocalHub) -> None:
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    s3 = _s3_for(token)
    key = f"{FREESOLV}/table.parquet"
    got = s3.get_object(Bucket=BUCKET, Key=key)
    body = got["Body"].read()
    assert body == _direct(hub).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert len(body) == got["ContentLength"] > 1000
    assert got["Metadata"]["md5sum"] == hashlib.md5(body).hexdigest()  # x-amz-meta-* passes through
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == len(body)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{FREESOLV}/")
    assert key in {item["Key"] for item in listed["Contents"]}

    assert _error(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"overwritten")) == (403, "AccessDenied")
    assert _error(lambda: s3.create_multipart_upload(Bucket=BUCKET, Key=f"{FREESOLV}/big.bin")) == (
        403,
        "AccessDenied",
    )
    assert _direct(hub).get_object(Bucket=BUCKET, Key=key)["Body"].read() == body, "a refused PUT changed the table"


def test_read_token_stays_inside_its_prefix(hub: LocalHub) -> None:
    s3 = _s3_for(_storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read"))
    outside = f"{FREESOLV_ZARR}/zarr_manifest.parquet"
    assert _exists(_direct(hub), outside)
    assert _error(lambda: s3.get_object(Bucket=BUCKET, Key=outside)) == (403, "AccessDenied")
    # a sibling whose name merely starts with the same characters is outside too
    assert _error(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=FREESOLV)) == (403, "AccessDenied")
    assert _error(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix="dataset/")) == (403, "AccessDenied")
    assert _error(lambda: s3.list_objects_v2(Bucket=BUCKET)) == (403, "AccessDenied")
    assert _error(lambda: s3.list_buckets()) == (403, "AccessDenied")
    assert _error(lambda: s3.get_object(Bucket="other-bucket", Key=f"{FREESOLV}/table.parquet")) == (
        403,
        "AccessDenied",
    )


def test_dot_segments_cannot_escape_the_prefix(hub: LocalHub) -> None:
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    headers = {"x-amz-security-token": "jwt/" + token["access_token"]}
    for path in (
        f"/{BUCKET}/{FREESOLV}/../freesolv-zarr/zarr_manifest.parquet",
        f"/{BUCKET}/{FREESOLV}/%2E%2E/freesolv-zarr/zarr_manifest.parquet",
    ):
        status, body = _raw(hub.s3_endpoint, "GET", path, headers)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body, path


# ------------------------------------------------------------------------------------------------ write scope
def test_write_token_puts_only_inside_its_dataset(hub: LocalHub) -> None:
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "write")
    s3, direct = _s3_for(token), _direct(hub)
    data = b"scratch bytes " * 100
    md5 = hashlib.md5(data).digest()
    inside = f"{FREESOLV}/scratch-{uuid.uuid4().hex[:8]}.bin"
    put = s3.put_object(
        Bucket=BUCKET,
        Key=inside,
        Body=data,
        ContentMD5=base64.b64encode(md5).decode(),
        Metadata={"md5sum": md5.hex()},
    )
    assert put["ETag"].strip('"') == md5.hex()
    stored = direct.get_object(Bucket=BUCKET, Key=inside)
    assert stored["Body"].read() == data and stored["Metadata"] == {"md5sum": md5.hex()}

    # If-None-Match: * on an existing key passes through to moto's 412
    assert _error(lambda: s3.put_object(Bucket=BUCKET, Key=inside, Body=b"again", IfNoneMatch="*")) == (
        412,
        "PreconditionFailed",
    )
    assert direct.get_object(Bucket=BUCKET, Key=inside)["Body"].read() == data

    for outside in (f"{FREESOLV_ZARR}/evil.bin", "dataset/demo-user/evil.bin", "evil.bin", f"{FREESOLV}-2/evil.bin"):
        assert _error(lambda k=outside: s3.put_object(Bucket=BUCKET, Key=k, Body=b"evil")) == (403, "AccessDenied")
        assert not _exists(direct, outside), outside
    # copying another dataset's object into this prefix would read outside it
    assert _error(
        lambda: s3.copy_object(
            Bucket=BUCKET, Key=f"{FREESOLV}/copied.bin", CopySource=f"{BUCKET}/{FREESOLV_ZARR}/zarr_manifest.parquet"
        )
    ) == (403, "AccessDenied")
    # deleting is not part of the protocol
    assert _error(lambda: s3.delete_object(Bucket=BUCKET, Key=inside)) == (403, "AccessDenied")
    assert _exists(direct, inside)


def test_gateway_answers_exactly_what_moto_answers(hub: LocalHub) -> None:
    """The gateway hands requests to moto's WSGI app in-process: names, metadata, ranges and errors come out as
    moto's own HTTP server gives them (compared side by side with the exposed moto port)."""
    s3 = _s3_for(_storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "write"))
    direct = _direct(hub)
    data = bytes(range(256)) * 4096  # 1 MiB
    md5 = hashlib.md5(data).digest()
    key = f"{FREESOLV}/odd names-{uuid.uuid4().hex[:6]}/a b+c%d é.bin"
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=data,
        ContentMD5=base64.b64encode(md5).decode(),
        ContentType="application/x-test",
        Metadata={"md5sum": md5.hex(), "with_underscore": "kept", "Mixed-Case": "v"},
    )
    via_gateway, from_moto = s3.head_object(Bucket=BUCKET, Key=key), direct.head_object(Bucket=BUCKET, Key=key)
    for field in ("ETag", "ContentLength", "ContentType", "Metadata"):
        assert via_gateway[field] == from_moto[field], field
    assert via_gateway["Metadata"]["with_underscore"] == "kept"
    ranged = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=1000-1999")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == f"bytes 1000-1999/{len(data)}" and ranged["Body"].read() == data[1000:2000]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=key.rsplit("/", 1)[0] + "/")["Contents"]
    assert [item["Key"] for item in listed] == [key]
    # a wrong Content-MD5 is refused by moto through the gateway, and nothing is stored
    other = key + ".bad"
    bad = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    status, code = _error(lambda: s3.put_object(Bucket=BUCKET, Key=other, Body=data, ContentMD5=bad))
    assert status == 400 and code in ("BadDigest", "InvalidDigest")
    assert not _exists(direct, other)
    assert _error(lambda: s3.get_object(Bucket=BUCKET, Key=other)) == (404, "NoSuchKey")


def test_in_process_link_turns_a_storage_crash_into_an_http_error() -> None:
    """A storage app that fails gives the gateway an ``HTTPException`` (its 503), never a half-built answer."""
    import http.client

    from polaris.emulator.wsgi_link import InProcessConnection

    def broken(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        raise RuntimeError("storage backend crashed")

    def lazy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("201 Created", [("Content-Length", str(len(body))), ("X-Path", environ["PATH_INFO"])])
        yield body

    conn = InProcessConnection(broken, "127.0.0.1", 1)
    conn.putrequest("GET", "/bucket/key")
    conn.endheaders()
    with pytest.raises(http.client.HTTPException):
        conn.getresponse()
    conn = InProcessConnection(lazy, "127.0.0.1", 1)
    conn.putrequest("PUT", "/bucket/a%20b")
    conn.putheader("Content-Length", "5")
    conn.endheaders()
    conn.send(b"hello")
    answer = conn.getresponse()
    assert (answer.status, answer.getheader("x-path"), bytes(answer.read(2)), bytes(answer.read())) == (
        201,
        "/bucket/a b",
        b"he",
        b"llo",
    )
    assert answer.isclosed() and answer.getheader("Date")


def test_write_token_streams_large_and_multipart_objects(hub: LocalHub) -> None:
    s3 = _s3_for(_storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv-zarr", "write"))
    rng = np.random.default_rng(7)
    big = rng.bytes(12 * 1024 * 1024 + 17)
    key = f"{FREESOLV_ZARR}/scratch-big-{uuid.uuid4().hex[:8]}.bin"
    s3.put_object(Bucket=BUCKET, Key=key, Body=big)
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == big

    mp_key = key + ".mp"
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=mp_key, Metadata={"md5sum": hashlib.md5(big).hexdigest()})
    part_size = 6 * 1024 * 1024
    parts = []
    for number, start in enumerate(range(0, len(big), part_size), start=1):
        answer = s3.upload_part(
            Bucket=BUCKET,
            Key=mp_key,
            UploadId=upload["UploadId"],
            PartNumber=number,
            Body=big[start : start + part_size],
        )
        parts.append({"PartNumber": number, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key=mp_key, UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    stored = _direct(hub).get_object(Bucket=BUCKET, Key=mp_key)
    assert stored["Body"].read() == big
    assert stored["Metadata"]["md5sum"] == hashlib.md5(big).hexdigest()
    # an abandoned multipart upload may be aborted with the write token
    other = s3.create_multipart_upload(Bucket=BUCKET, Key=mp_key + ".abandoned")
    s3.abort_multipart_upload(Bucket=BUCKET, Key=mp_key + ".abandoned", UploadId=other["UploadId"])


def test_other_user_cannot_write_into_a_dataset_it_may_only_read(hub: LocalHub) -> None:
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read", user="other-user")
    s3 = _s3_for(token)
    assert s3.get_object(Bucket=BUCKET, Key=f"{FREESOLV}/table.parquet")["ContentLength"] > 0
    assert _error(lambda: s3.put_object(Bucket=BUCKET, Key=f"{FREESOLV}/evil.bin", Body=b"evil")) == (
        403,
        "AccessDenied",
    )


# ------------------------------------------------------------------------------------------------ bad tokens
def test_missing_malformed_and_forged_tokens_are_refused(hub: LocalHub) -> None:
    key = f"{FREESOLV}/table.parquet"
    real = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    payload = real["access_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = jwt.encode({"alg": "HS256", "typ": "JWT"}, dict(claims, scope="write"), OctKey.import_key(b"f" * 32))
    tampered = real["access_token"][:-4] + ("AAAA" if not real["access_token"].endswith("AAAA") else "BBBB")
    for session_token in (
        None,  # no x-amz-security-token at all
        real["access_token"],  # without the jwt/ prefix
        "jwt/not-a-jwt",
        "jwt/" + forged,  # signed with another key
        "jwt/" + tampered,  # signature broken
        "jwt/" + _hub_token(hub),  # a genuine Hub token is not a storage token
    ):
        s3 = _s3(hub.s3_endpoint, session_token)
        assert _error(lambda c=s3: c.get_object(Bucket=BUCKET, Key=key)) == (403, "AccessDenied"), session_token
        assert _error(lambda c=s3: c.put_object(Bucket=BUCKET, Key=f"{FREESOLV}/forged.bin", Body=b"x")) == (
            403,
            "AccessDenied",
        )
    assert not _exists(_direct(hub), f"{FREESOLV}/forged.bin")
    # the refusal is an S3 XML error document
    status, body = _raw(hub.s3_endpoint, "GET", f"/{BUCKET}/{key}", {})
    assert status == 403
    assert body.startswith(b"<?xml") and b"<Error><Code>AccessDenied</Code>" in body


def test_expired_token_answers_expired_token(short_hub: LocalHub) -> None:
    token = _storage_token(short_hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    s3 = _s3_for(token)
    key = f"{FREESOLV}/table.parquet"
    assert s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"] > 0
    time.sleep(SHORT_TTL + 1.1)
    assert _error(lambda: s3.get_object(Bucket=BUCKET, Key=key)) == (400, "ExpiredToken")
    assert _error(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{FREESOLV}/")) == (400, "ExpiredToken")
    assert _error(lambda: s3.head_object(Bucket=BUCKET, Key=key))[0] == 400  # HEAD errors carry no body
    # a fresh token works again
    assert _s3_for(_storage_token(short_hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")).head_object(
        Bucket=BUCKET, Key=key
    )


def test_no_storage_auth_hands_out_moto_directly(local_hub_factory: Callable[..., LocalHub]) -> None:
    hub = local_hub_factory(seed="demo", extra_args=["--no-storage-auth"])
    assert hub.s3_endpoint == hub.s3_direct_endpoint
    token = _storage_token(hub, "urn:polaris:dataset:polaris-demo:freesolv", "read")
    assert token["extra_data"]["endpoint"] == hub.s3_direct_endpoint
    # nothing checks credentials there
    assert _s3(hub.s3_endpoint).head_object(Bucket=BUCKET, Key=f"{FREESOLV}/table.parquet")["ContentLength"] > 0


# ------------------------------------------------------------------------------------------------ real client
class _Tokens:
    """Counts storage-token requests; ``hide_expiry`` drops ``expires_in`` so only S3's ExpiredToken can renew."""

    def __init__(self, client: PolarisHubClient, *, hide_expiry: bool) -> None:
        self.calls: list[tuple[str, str]] = []
        auth = client._authenticator
        original = auth.storage_token

        def counted(*, resource: str, scope: str) -> dict[str, Any]:
            self.calls.append((resource, scope))
            answer = dict(original(resource=resource, scope=scope))
            if hide_expiry:
                answer.pop("expires_in", None)
                answer.pop("expires_at", None)
            return answer

        auth.storage_token = counted  # type: ignore[method-assign]


def _many_chunk_dataset(tmp_path: Path, name: str) -> DatasetV1:
    root = tmp_path / f"{name}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    values = np.arange(N_CHUNKS * 4, dtype="float64").reshape(N_CHUNKS, 4)
    group.create_array("x", shape=values.shape, chunks=(1, 4), dtype="float64")[:] = values
    zarr.consolidate_metadata(str(root), zarr_format=2)
    table = pd.DataFrame({"x": [f"x#{i}" for i in range(N_CHUNKS)], "y": np.linspace(0.0, 1.0, N_CHUNKS)})
    return DatasetV1(
        name=name,
        owner="demo-user",
        table=table,
        annotations={"x": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
        description=f"{N_CHUNKS} one-row chunks",
    )


@pytest.mark.parametrize(
    ("hub_fixture", "hide_expiry", "token_life"),
    [("short_hub", True, SHORT_TTL), ("early_hub", False, EARLY_USE)],
    ids=["storage-says-expired", "client-renews-early"],
)
def test_client_transfer_outlives_its_storage_tokens(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    hub_fixture: str,
    hide_expiry: bool,
    token_life: float,
) -> None:
    """A Zarr upload of many small chunks lasts longer than one storage token; the client renews and completes.

    ``storage-says-expired``: tokens live 2 s and the client is not told (``expires_in`` hidden), so only the
    gateway's ``400 ExpiredToken`` can make it renew. ``client-renews-early``: the client sees ``expires_in`` and
    renews ahead of expiry, in the last third of the token's life (not before every request).
    """
    hub: LocalHub = request.getfixturevalue(hub_fixture)
    caplog.set_level(logging.INFO, logger="polaris.hub.storage")
    name = f"slow-{uuid.uuid4().hex[:8]}"
    dataset = _many_chunk_dataset(tmp_path, name)
    settings = hub.settings(
        username="demo-user", password=hub.users["demo-user"], storage_max_concurrency=TOKEN_LIFE_CONCURRENCY
    )
    with PolarisHubClient(settings, cache_auth_token=False) as client:
        client.show_progress = False
        client.login()
        tokens = _Tokens(client, hide_expiry=hide_expiry)
        started = time.monotonic()
        stored = client.upload_dataset(dataset, access="private")
        upload_seconds = time.monotonic() - started
        assert stored["md5Sum"] == dataset.compute_md5sum()
        assert upload_seconds > token_life, f"the upload took {upload_seconds:.1f}s, less than a token's life"
        writes = [call for call in tokens.calls if call[1] == "write"]
        assert len(writes) > 1, f"one storage token lasted the whole {upload_seconds:.1f}s upload"
        rejected = caplog.text.count("storage rejected the token")
        if hide_expiry:
            # the client could not know the expiry: the gateway's ExpiredToken made it renew
            assert rejected >= 1
        else:
            assert rejected == 0, "the client renewed late: the gateway refused an expired token"

        back = client.get_dataset("demo-user", name, verify_checksum="verify")
    assert isinstance(back, DatasetV1)
    np.testing.assert_array_equal(back.get_data(N_CHUNKS - 1, "x"), dataset.get_data(N_CHUNKS - 1, "x"))
    keys = {
        item["Key"]
        for page in _direct(hub)
        .get_paginator("list_objects_v2")
        .paginate(Bucket=BUCKET, Prefix=f"dataset/demo-user/{name}/data.zarr/")
        for item in page.get("Contents", [])
    }
    assert len(keys) >= N_CHUNKS


def test_client_head_renews_an_expired_token(short_hub: LocalHub) -> None:
    """HEAD errors have no body: the client still recognises the bare 400 of an expired token and renews it."""
    resource = "urn:polaris:dataset:polaris-demo:freesolv"
    issued: list[StorageToken] = []

    def provider() -> StorageToken:
        payload = _storage_token(short_hub, resource, "read")
        payload.pop("expires_in", None)  # the client cannot know: only the storage's answer tells it
        issued.append(StorageToken.from_response(payload))
        return issued[-1]

    with StorageSession(provider, progress=False) as session:
        table = session.token.paths["root"]
        assert session.exists(table)
        time.sleep(SHORT_TTL + 1.1)
        assert session.exists(table)  # renewed after the bare 400, not an error
        assert not session.exists(table + ".missing")
    assert len(issued) == 2
