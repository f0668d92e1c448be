"""StorageToken / StorageSession against a real S3 protocol server (moto on loopback)."""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import zarr
from moto.server import ThreadedMotoServer

from polaris.errors import (
    ArtifactExistsError,
    ClientClosedError,
    ObjectConflictError,
    PolarisChecksumError,
    StorageError,
)
from polaris.hub.storage import (
    MULTIPART_THRESHOLD,
    PART_SIZE,
    ObjectLocation,
    StorageSession,
    StorageToken,
    parse_url,
    stage_zarr,
)

BUCKET = "polaris-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        boto3.client(
            "s3", endpoint_url=endpoint, aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
        ).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    return boto3.client(
        "s3", endpoint_url=s3_endpoint, aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
    )


def token_payload(endpoint: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "access_token": "storage-jwt",
        "issued_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_type": "Storage",
        "expires_in": 3600,
        "extra_data": {
            "key": "AKEY",
            "secret": "ASECRET",
            "endpoint": endpoint,
            "paths": {
                "root": f"polarisfs://{BUCKET}/dataset/org-a/zz-data/table.parquet",
                "extension": f"polarisfs://{BUCKET}/dataset/org-a/zz-data/data.zarr",
            },
        },
    }
    payload.update(overrides)
    return payload


def provider_for(endpoint: str) -> Callable[[], StorageToken]:
    token = StorageToken.from_response(token_payload(endpoint))
    return lambda: token


@pytest.fixture
def session(s3_endpoint: str) -> Iterator[StorageSession]:
    with StorageSession(provider_for(s3_endpoint), max_workers=4, progress=False) as s:
        yield s


def unique(prefix: str) -> str:
    return f"polarisfs://{BUCKET}/{prefix}/{time.monotonic_ns()}"


def make_zarr(path: Path, zarr_format: int, *, chunks: int = 4) -> np.ndarray:
    group = zarr.open_group(path, mode="w", zarr_format=zarr_format)
    data = np.arange(chunks * 16, dtype="f8").reshape(chunks * 4, 4)
    array = group.create_array("values", shape=data.shape, chunks=(4, 4), dtype="f8")
    array[:] = data
    group.attrs["note"] = "test"
    return data


def manifest_of(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.md5(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()
    }


# --- token ---------------------------------------------------------------------------------------------------------
def test_token_from_hub_response() -> None:
    token = StorageToken.from_response(token_payload("http://127.0.0.1:9/"))
    assert token.key == "AKEY" and token.secret == "ASECRET" and token.session_token == "jwt/storage-jwt"
    assert token.paths["extension"].endswith("data.zarr")
    assert token.expires_at is not None and 3500 < token.expires_at - time.time() <= 3600
    assert not token.expired()
    assert "ASECRET" not in repr(token) and "storage-jwt" not in repr(token)


def test_token_type_is_case_insensitive_and_defaults_to_storage() -> None:
    assert StorageToken.from_response(token_payload("http://h/", token_type="storage")).key == "AKEY"
    payload = token_payload("http://h/")
    del payload["token_type"]
    assert StorageToken.from_response(payload).key == "AKEY"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"token_type": "Bearer"}, "token_type"),
        ({"expires_in": 0}, "expires_in"),
        ({"issued_token_type": "urn:ietf:params:oauth:token-type:access_token"}, "issued_token_type"),
        ({"access_token": ""}, "access_token"),
    ],
)
def test_token_rejects_bad_fields(change: dict[str, Any], message: str) -> None:
    with pytest.raises(StorageError, match=message):
        StorageToken.from_response(token_payload("http://h/", **change))


@pytest.mark.parametrize(
    ("extra_change", "message"),
    [
        ({"endpoint": "ftp://h/"}, "endpoint"),
        ({"endpoint": "not a url"}, "endpoint"),
        ({"secret": None}, "secret"),
        ({"paths": {"extension": "polarisfs://b/x.zarr"}}, "paths"),
        ({"paths": {"root": "bkt/no-scheme"}}, "absolute URL"),
        (
            {"paths": {"root": "polarisfs://b/r", "manifest": "polarisfs://b/m", "extension": "polarisfs://b/e"}},
            "paths",
        ),
    ],
)
def test_token_rejects_bad_extra_data(extra_change: dict[str, Any], message: str) -> None:
    payload = token_payload("http://h/")
    payload["extra_data"].update(extra_change)
    with pytest.raises(StorageError, match=message):
        StorageToken.from_response(payload)


def test_token_accepts_v2_paths_and_explicit_expiry() -> None:
    payload = token_payload("https://storage.example/", expires_at="2020-01-01T00:00:00Z")
    payload["extra_data"]["paths"] = {"root": "polarisfs://b/d/data.zarr", "manifest": "polarisfs://b/d/m.parquet"}
    token = StorageToken.from_response(payload)
    assert set(token.paths) == {"root", "manifest"}
    assert token.expired()


def test_parse_url() -> None:
    assert parse_url("polarisfs://bkt/dataset/o/n/table.parquet") == ObjectLocation("bkt", "dataset/o/n/table.parquet")
    assert parse_url("s3://bkt/a/b.zarr/") == ObjectLocation("bkt", "a/b.zarr")
    with pytest.raises(StorageError):
        parse_url("polarisfs://bucket-only")


# --- single files --------------------------------------------------------------------------------------------------
def test_small_upload_sets_md5_metadata_and_content_type(session: StorageSession, s3: Any) -> None:
    url = unique("small") + "/table.parquet"
    data = os.urandom(12345)
    report = session.upload_file(url, data)
    assert (report.uploaded, report.skipped, report.bytes) == (1, 0, len(data))
    loc = parse_url(url)
    head = s3.head_object(Bucket=loc.bucket, Key=loc.key)
    assert head["Metadata"]["md5sum"] == hashlib.md5(data).hexdigest()
    assert head["ContentType"] == "application/vnd.apache.parquet"
    assert head["ETag"].strip('"') == hashlib.md5(data).hexdigest()  # single PUT
    assert session.read_bytes(url) == data


def test_multipart_upload_streams_from_a_file(session: StorageSession, s3: Any, tmp_path: Path) -> None:
    size = 2 * PART_SIZE + 12345
    assert size > MULTIPART_THRESHOLD
    src = tmp_path / "big.bin"
    data = os.urandom(size)
    src.write_bytes(data)
    url = unique("multi") + "/manifest.bin"
    session.upload_file(url, src, content_type="application/octet-stream")
    loc = parse_url(url)
    head = s3.head_object(Bucket=loc.bucket, Key=loc.key)
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["Metadata"]["md5sum"] == hashlib.md5(data).hexdigest()
    assert head["ContentType"] == "application/octet-stream"
    dest = session.download_file(url, tmp_path / "out" / "big.bin", expected_md5=hashlib.md5(data).hexdigest())
    assert dest.read_bytes() == data


def test_download_checksum_mismatch_keeps_nothing(session: StorageSession, tmp_path: Path) -> None:
    url = unique("dl") + "/table.parquet"
    session.upload_file(url, b"original bytes")
    dest = tmp_path / "table.parquet"
    with pytest.raises(PolarisChecksumError) as info:
        session.download_file(url, dest, expected_md5=hashlib.md5(b"other").hexdigest(), artifact="org-a/zz-data")
    assert info.value.artifact == "org-a/zz-data"
    assert info.value.actual == hashlib.md5(b"original bytes").hexdigest()
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_object(session: StorageSession, tmp_path: Path) -> None:
    url = unique("missing") + "/nothing.parquet"
    assert not session.exists(url)
    with pytest.raises(StorageError, match="no object"):
        session.download_file(url, tmp_path / "x")
    with pytest.raises(StorageError, match="no object"):
        session.read_bytes(url)
    assert list(tmp_path.iterdir()) == []


def test_if_exists_on_single_files(session: StorageSession) -> None:
    url = unique("cond") + "/table.parquet"
    assert session.upload_file(url, b"v1", if_exists="raise").uploaded == 1
    with pytest.raises(ArtifactExistsError):
        session.upload_file(url, b"v2", if_exists="raise")
    assert session.read_bytes(url) == b"v1"
    assert session.upload_file(url, b"v1", if_exists="skip").skipped == 1  # same md5: kept, not sent
    with pytest.raises(ObjectConflictError) as err:  # different md5: named, never silently kept
        session.upload_file(url, b"v3", if_exists="skip")
    assert err.value.keys and err.value.keys[0].endswith("table.parquet")
    assert session.read_bytes(url) == b"v1"
    assert session.upload_file(url, b"v4", if_exists="replace").uploaded == 1
    assert session.read_bytes(url) == b"v4"


def test_if_exists_raise_on_multipart(session: StorageSession) -> None:
    url = unique("cond-mp") + "/big.bin"
    data = os.urandom(MULTIPART_THRESHOLD + 1)
    session.upload_file(url, data)
    with pytest.raises(ArtifactExistsError):
        session.upload_file(url, b"x" * (MULTIPART_THRESHOLD + 5), if_exists="raise")
    assert session.read_bytes(url) == data


# --- token renewal -------------------------------------------------------------------------------------------------
def test_expired_token_is_renewed_before_use(s3_endpoint: str) -> None:
    calls: list[StorageToken] = []

    def provider() -> StorageToken:
        payload = token_payload(s3_endpoint, access_token=f"tok-{len(calls)}")
        if not calls:
            payload["expires_at"] = time.time() - 10
        calls.append(StorageToken.from_response(payload))
        return calls[-1]

    with StorageSession(provider, progress=False) as session:
        url = unique("renew") + "/t.parquet"
        session.upload_file(url, b"data")
        assert len(calls) == 2
        assert session.token.access_token == "tok-1"
        assert session.read_bytes(url) == b"data"
        assert len(calls) == 2  # a valid token is reused


def test_provider_is_called_lazily(s3_endpoint: str) -> None:
    calls = []

    def provider() -> StorageToken:
        calls.append(1)
        return StorageToken.from_response(token_payload(s3_endpoint))

    session = StorageSession(provider, progress=False)
    assert calls == []
    assert not session.exists(unique("lazy") + "/x")
    assert calls == [1]
    session.close()
    with pytest.raises(ClientClosedError):
        session.exists(unique("lazy") + "/x")


# --- Zarr ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_round_trip_with_manifest(session: StorageSession, tmp_path: Path, zarr_format: int) -> None:
    local = tmp_path / "data.zarr"
    data = make_zarr(local, zarr_format)
    store = unique("zarr")
    before = sorted((p.relative_to(local).as_posix(), p.stat().st_mtime_ns) for p in local.rglob("*"))
    report = session.upload_zarr(local, store)
    after = sorted((p.relative_to(local).as_posix(), p.stat().st_mtime_ns) for p in local.rglob("*"))
    assert after == before  # consolidated in a staging copy, never in the user's archive
    entries = stage_zarr(local, tmp_path / "staging").entries()
    manifest = {e.path: e.md5sum for e in entries}
    assert (".zmetadata" if zarr_format == 2 else "zarr.json") in manifest
    assert report.uploaded == len(manifest) and report.skipped == 0
    assert report.bytes == sum(e.size for e in entries)

    out = session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest, artifact="org-a/zz-data")
    assert manifest_of(out) == manifest
    reopened = zarr.open_consolidated(out, mode="r", zarr_format=zarr_format)
    np.testing.assert_array_equal(reopened["values"][:], data)
    assert not (tmp_path / "copy.zarr.incomplete").exists()


def test_zarr_chunk_changed_behind_our_back(session: StorageSession, s3: Any, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 2)
    store = unique("zarr-corrupt")
    session.upload_zarr(local, store)
    manifest = manifest_of(local)
    loc = parse_url(store)
    s3.put_object(Bucket=loc.bucket, Key=f"{loc.key}/values/1.0", Body=b"tampered")

    dest = tmp_path / "copy.zarr"
    with pytest.raises(PolarisChecksumError) as info:
        session.download_zarr(store, dest, manifest=manifest, artifact="org-a/zz-data")
    assert info.value.chunk == "values/1.0"
    assert info.value.artifact == "org-a/zz-data"
    assert "values/1.0" in str(info.value) and "org-a/zz-data" in str(info.value)
    assert not dest.exists()
    assert not (tmp_path / "copy.zarr.incomplete").exists()


def test_zarr_manifest_entry_missing_remotely(session: StorageSession, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 3)
    store = unique("zarr-missing")
    session.upload_zarr(local, store)
    manifest = manifest_of(local) | {"values/c/9/9": "0" * 32}
    with pytest.raises(PolarisChecksumError, match="values/c/9/9"):
        session.download_zarr(store, tmp_path / "copy.zarr", manifest=manifest)
    assert not (tmp_path / "copy.zarr").exists()


def test_zarr_download_replaces_existing_dest(session: StorageSession, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 3)
    store = unique("zarr-replace")
    session.upload_zarr(local, store)
    dest = tmp_path / "copy.zarr"
    dest.mkdir()
    (dest / "stale").write_text("old")
    session.download_zarr(store, dest)
    assert not (dest / "stale").exists()
    staged = {e.path: e.md5sum for e in stage_zarr(local, tmp_path / "staging").entries()}
    assert manifest_of(dest) == staged


def test_zarr_if_exists_modes(session: StorageSession, tmp_path: Path) -> None:
    local = tmp_path / "data.zarr"
    make_zarr(local, 2)
    store = unique("zarr-cond")
    first = session.upload_zarr(local, store, if_exists="raise")
    n_files = len(manifest_of(local)) + 1  # plus the .zmetadata consolidated in staging (not in the archive)
    assert not (local / ".zmetadata").exists()
    assert first.uploaded == n_files
    with pytest.raises(ArtifactExistsError):
        session.upload_zarr(local, store, if_exists="raise")
    skipped = session.upload_zarr(local, store, if_exists="skip")
    assert (skipped.uploaded, skipped.skipped, skipped.bytes) == (0, n_files, 0)
    replaced = session.upload_zarr(local, store, if_exists="replace")
    assert (replaced.uploaded, replaced.skipped) == (n_files, 0)


def test_upload_zarr_rejects_non_zarr_folder(session: StorageSession, tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "file.txt").write_text("x")
    with pytest.raises(StorageError, match="not a Zarr archive"):
        session.upload_zarr(tmp_path / "plain", unique("nz"))


def test_download_zarr_of_empty_prefix(session: StorageSession, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no objects"):
        session.download_zarr(unique("empty"), tmp_path / "x.zarr")
    assert list(tmp_path.iterdir()) == []


def test_short_lived_tokens_get_a_proportional_leeway() -> None:
    now = time.time()
    base = {"access_token": "t", "key": "k", "secret": "s", "endpoint": "http://127.0.0.1:1/", "paths": {"root": "x"}}
    short = StorageToken(**base, expires_at=now + 3, issued_at=now)  # type: ignore[arg-type]
    assert not short.expired()  # 30 s leeway would call a fresh 3 s token expired at once
    assert short.expired(leeway=30) is False
    nearly = StorageToken(**base, expires_at=now + 0.5, issued_at=now - 2.5)  # type: ignore[arg-type]
    assert nearly.expired()  # inside the last third of its life
    long = StorageToken(**base, expires_at=now + 20, issued_at=now - 3600)  # type: ignore[arg-type]
    assert long.expired()  # a long-lived token keeps the full 30 s leeway
    assert not StorageToken(**base, expires_at=None).expired()  # type: ignore[arg-type]
