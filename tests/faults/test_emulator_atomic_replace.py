"""A published artifact of the local Hub survives kill -9 as a complete version: the old one or the new one.

Every emulator here is a real subprocess (``python -m polaris.emulator start --data-dir ...``) killed with SIGKILL while
a client replaces (or first uploads) a dataset's objects. After the restart the dataset must be the previous complete
version or the new complete version -- every object it declares readable with its declared md5 -- never deleted, and
an upload cut short must stay unpublished (409, not listed) instead of being served or removed.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pandas as pd
import pytest
import zarr
from botocore.config import Config

from polaris.artifacts import DatasetV1, DatasetV2
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.hub.client import PolarisHubClient
from polaris.testing import LocalHub

pytestmark = pytest.mark.timeout(600)

BUCKET = "polaris-hub"
USER, PASSWORD = "atomic-user", "atomic-password"
HTTP_TIMEOUT = 30.0
STOP_WAIT_SECONDS = 30.0
ROUNDS = 3
SEED = 20261207
KILL_WAIT_SECONDS = 90.0
"""Longest wait for the upload to reach the point where the kill is due."""
POLL_SECONDS = 0.02


# ------------------------------------------------------------------------------------------------ helpers
def _start(data_dir: Path) -> LocalHub:
    return LocalHub(users={USER: PASSWORD}, data_dir=data_dir).start()


def _kill(hub: LocalHub) -> None:
    assert hub.process is not None
    os.kill(hub.process.pid, signal.SIGKILL)
    hub.process.wait(timeout=STOP_WAIT_SECONDS)
    hub.stop()


def _client(hub: LocalHub) -> PolarisHubClient:
    client = PolarisHubClient(hub.settings(username=USER, password=PASSWORD), cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


def _hub_token(http: httpx.Client) -> str:
    r = http.post("api/auth/token", data={"grant_type": "password", "username": USER, "password": PASSWORD})
    r.raise_for_status()
    return str(r.json()["access_token"])


def _s3(http: httpx.Client, hub_token: str, name: str, scope: str) -> Any:
    r = http.post(
        "api/auth/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": hub_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "requested_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "resource": f"urn:polaris:dataset:{USER}:{name}",
            "scope": scope,
        },
    )
    r.raise_for_status()
    token = r.json()
    extra = token["extra_data"]
    return boto3.client(
        "s3",
        endpoint_url=extra["endpoint"],
        aws_access_key_id=extra["key"],
        aws_secret_access_key=extra["secret"],
        aws_session_token="jwt/" + token["access_token"],
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )


def _dataset(tmp: Path, name: str, rng: random.Random, rows: int) -> DatasetV1:
    """A V1 dataset with a pointer column: a table plus a Zarr archive of ``rows / 2`` chunks (new random values)."""
    root = tmp / f"{name}-{rng.randrange(10**9)}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    images = np.random.default_rng(rng.randrange(2**32)).random((rows, 3, 4))
    group.create_array("img", shape=images.shape, chunks=(2, 3, 4), dtype="float64")[:] = images
    zarr.consolidate_metadata(str(root), zarr_format=2)
    table = pd.DataFrame({"img": [f"img#{i}" for i in range(rows)], "y": images.mean(axis=(1, 2))})
    return DatasetV1(
        name=name,
        owner=USER,
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
        description="atomic replacement test",
    )


def _declared(row: dict[str, Any]) -> dict[str, str]:
    """``{key under the dataset's prefix: md5}`` of every object a V1 dataset row declares."""
    out = {"table.parquet": row["tableContent"]["md5Sum"]}
    out.update({f"data.zarr/{e['path'].lstrip('/')}": e["md5sum"] for e in row.get("zarrContent") or []})
    return out


def _served(hub: LocalHub, name: str) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    """(status of the dataset's GET, its row when 200, {key: md5 of the stored body} of every declared key)."""
    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
        token = _hub_token(http)
        got = http.get(f"api/v1/dataset/{USER}/{name}", headers={"Authorization": f"Bearer {token}"})
        if got.status_code != 200:
            return got.status_code, None, {}
        row = got.json()
        s3 = _s3(http, token, name, "read")
        stored: dict[str, str] = {}
        for rel in _declared(row):
            try:
                body = s3.get_object(Bucket=BUCKET, Key=f"dataset/{USER}/{name}/{rel}")["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
            stored[rel] = hashlib.md5(body).hexdigest()
        return 200, row, stored


def _object_files(data_dir: Path) -> dict[str, float]:
    objects = data_dir / "store" / "objects"
    out: dict[str, float] = {}
    for path in objects.glob("*.obj") if objects.is_dir() else ():
        try:
            out[path.name] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return out


def _kill_after_writes(hub: LocalHub, data_dir: Path, before: dict[str, float], writes: int, upload: Any) -> int:
    """kill -9 once ``writes`` object files were created or replaced since ``before`` (or the upload ended)."""
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    changed = 0
    while time.monotonic() < deadline and upload.is_alive():
        now = _object_files(data_dir)
        changed = sum(1 for name, mtime in now.items() if before.get(name) != mtime)
        if changed >= writes:
            break
        time.sleep(POLL_SECONDS)
    _kill(hub)
    return changed


class _Upload(threading.Thread):
    """One ``upload_dataset`` that a kill may cut short; records the Hub's answer when it was acknowledged."""

    def __init__(self, hub: LocalHub, dataset: DatasetV1, if_exists: str = "replace") -> None:
        super().__init__(daemon=True)
        self.hub, self.dataset, self.if_exists = hub, dataset, if_exists
        self.acknowledged: dict[str, Any] | None = None

    def run(self) -> None:
        try:
            with _client(self.hub) as client:
                self.acknowledged = client.upload_dataset(self.dataset, access="private", if_exists=self.if_exists)
        except Exception:
            pass  # killed mid-upload: never acknowledged


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "hub-data"


# ------------------------------------------------------------------------------------------------ tests
def test_acknowledged_chunk_replacement_then_kill_keeps_the_complete_version(data_dir: Path, tmp_path: Path) -> None:
    """One chunk of a published dataset is overwritten (acknowledged), then kill -9: the published version survives."""
    rng = random.Random(SEED)
    hub = _start(data_dir)
    try:
        with _client(hub) as client:
            stored = client.upload_dataset(_dataset(tmp_path, "chunky", rng, rows=24), access="private")
        declared = _declared(stored)
        assert len(declared) >= 16
        status, row, before = _served(hub, "chunky")
        assert status == 200 and row is not None and before == declared
        chunk = "data.zarr/img/0.0.0"
        assert chunk in declared
        replacement = os.urandom(96)
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            s3 = _s3(http, _hub_token(http), "chunky", "write")
            s3.put_object(Bucket=BUCKET, Key=f"dataset/{USER}/chunky/{chunk}", Body=replacement)
        _kill(hub)
    finally:
        hub.stop()

    hub = _start(data_dir)
    try:
        status, row, after = _served(hub, "chunky")
        assert status == 200, "the published dataset was deleted at restart"
        assert row is not None and row["md5Sum"] == stored["md5Sum"]
        assert after == declared, "the restarted Hub does not hold the complete published version"
        assert any("restored dataset atomic-user/chunky" in line for line in hub.output), hub.output
        # the acknowledged replacement is set aside, not deleted
        displaced = list((data_dir / "store" / "displaced").glob("*.obj"))
        assert any(p.read_bytes().startswith(replacement) for p in displaced), displaced
        with _client(hub) as client:
            back = client.get_dataset(USER, "chunky", verify_checksum="verify")
            assert back.md5sum == stored["md5Sum"]
            assert len(back.table) == 24
    finally:
        hub.stop()


def test_kill_9_during_replacement_leaves_the_old_or_the_new_complete_version(data_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    hub = _start(data_dir)
    try:
        with _client(hub) as client:
            current = client.upload_dataset(_dataset(tmp_path, "replaced", rng, rows=60), access="private")
    finally:
        hub.stop()
    cut = 0
    for _ in range(ROUNDS):
        hub = _start(data_dir)
        try:
            status, row, stored = _served(hub, "replaced")
            assert status == 200, f"the dataset was lost (answer {status}) after a kill during its replacement"
            assert row is not None and row["md5Sum"] == current["md5Sum"] and stored == _declared(current)
            new = _dataset(tmp_path, "replaced", rng, rows=60)
            upload = _Upload(hub, new)
            before = _object_files(data_dir)
            upload.start()
            _kill_after_writes(hub, data_dir, before, rng.randint(2, 24), upload)
            upload.join(timeout=STOP_WAIT_SECONDS)
        finally:
            hub.stop()
        hub = _start(data_dir)
        try:
            status, row, stored = _served(hub, "replaced")
            assert status == 200, f"the dataset was lost (answer {status}) after a kill during its replacement"
            assert row is not None
            if upload.acknowledged is not None:
                assert row["md5Sum"] == upload.acknowledged["md5Sum"], "an acknowledged replacement was rolled back"
            else:
                cut += 1
            assert stored == _declared(row), "the dataset is a mix of the old and the new version"
            assert row["md5Sum"] in {current["md5Sum"], new.md5sum}
            current = row
        finally:
            hub.stop()
    assert cut >= 1, "no kill landed during a replacement: the test tested nothing"
    hub = _start(data_dir)
    try:
        with _client(hub) as client:
            assert client.get_dataset(USER, "replaced", verify_checksum="verify").md5sum == current["md5Sum"]
    finally:
        hub.stop()


def test_kill_9_during_first_upload_leaves_it_unpublished_until_finished(data_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED + 2)
    cut = 0
    for round_ in range(ROUNDS):
        name = f"fresh-{round_}"
        dataset = _dataset(tmp_path, name, rng, rows=60)
        hub = _start(data_dir)
        try:
            upload = _Upload(hub, dataset)
            before = _object_files(data_dir)
            upload.start()
            _kill_after_writes(hub, data_dir, before, rng.randint(2, 20), upload)
            upload.join(timeout=STOP_WAIT_SECONDS)
        finally:
            hub.stop()
        hub = _start(data_dir)
        try:
            with _client(hub) as client:
                listed = set(client.list_datasets(limit=1000))
            status, row, stored = _served(hub, name)
            if upload.acknowledged is not None or status == 200:
                # acknowledged (or its last object landed just before the kill): complete and listed
                assert status == 200 and row is not None and stored == _declared(row)
                assert f"{USER}/{name}" in listed
                continue
            cut += 1
            assert status == 409, f"an upload cut short answers {status} after restart (expected 409: unpublished)"
            assert f"{USER}/{name}" not in listed, "an upload cut short is listed after restart"
            assert any(f"dataset {USER}/{name} stays unpublished" in line for line in hub.output), hub.output
            # its owner can finish it: the row and the objects that arrived were kept
            with _client(hub) as client:
                client.upload_dataset(dataset, access="private", if_exists="skip")
            status, row, stored = _served(hub, name)
            assert status == 200 and row is not None and stored == _declared(row)
        finally:
            hub.stop()
    assert cut >= 1, "no kill landed during an upload: the test tested nothing"


def _dataset_v2(tmp: Path, name: str, rng: random.Random, rows: int) -> DatasetV2:
    root = tmp / f"{name}-{rng.randrange(10**9)}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    values = np.random.default_rng(rng.randrange(2**32)).random((2, rows))
    group.create_array("x", shape=(rows,), chunks=(4,), dtype="float64")[:] = values[0]
    group.create_array("y", shape=(rows,), chunks=(4,), dtype="float64")[:] = values[1]
    zarr.consolidate_metadata(str(root), zarr_format=2)
    return DatasetV2(name=name, owner=USER, zarr_root_path=str(root), license="CC0-1.0")


def _served_v2(hub: LocalHub, name: str) -> tuple[int, str | None, bool]:
    """(status of the V2 dataset's GET, its manifest md5 when 200, whether every object the manifest lists matches)."""
    import pyarrow.parquet as pq

    with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
        token = _hub_token(http)
        got = http.get(f"api/v2/dataset/{USER}/{name}", headers={"Authorization": f"Bearer {token}"})
        if got.status_code != 200:
            return got.status_code, None, False
        declared = got.json()["zarrManifestMd5Sum"]
        s3 = _s3(http, token, name, "read")
        prefix = f"dataset/{USER}/{name}"
        manifest = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/zarr_manifest.parquet")["Body"].read()
        if hashlib.md5(manifest).hexdigest() != declared:
            return 200, declared, False
        entries = pq.read_table(io.BytesIO(manifest)).to_pydict()
        for path, md5 in zip(entries["path"], entries["md5_checksum"], strict=True):
            body = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/data.zarr/{path}")["Body"].read()
            if hashlib.md5(body).hexdigest() != md5:
                return 200, declared, False
        return 200, declared, len(entries["path"]) > 0


def test_kill_9_during_v2_replacement_leaves_a_complete_version(data_dir: Path, tmp_path: Path) -> None:
    """The V2 rules go through the manifest: the old one must be restored with the chunks it lists."""
    rng = random.Random(SEED + 3)
    hub = _start(data_dir)
    try:
        first = _dataset_v2(tmp_path, "replaced-v2", rng, rows=120)
        with _client(hub) as client:
            client.upload_dataset(first, access="private")
        versions = {first.zarr_manifest_md5sum}
    finally:
        hub.stop()
    cut = 0
    for _ in range(ROUNDS - 1):
        hub = _start(data_dir)
        try:
            new = _dataset_v2(tmp_path, "replaced-v2", rng, rows=120)
            upload = _Upload(hub, new)
            before = _object_files(data_dir)
            upload.start()
            _kill_after_writes(hub, data_dir, before, rng.randint(3, 40), upload)
            upload.join(timeout=STOP_WAIT_SECONDS)
            versions.add(new.zarr_manifest_md5sum)
        finally:
            hub.stop()
        hub = _start(data_dir)
        try:
            status, manifest_md5, whole = _served_v2(hub, "replaced-v2")
            assert status == 200, f"the V2 dataset was lost (answer {status}) after a kill during its replacement"
            assert manifest_md5 in versions and whole, "the V2 dataset is not one complete version"
            if upload.acknowledged is not None:
                assert manifest_md5 == new.zarr_manifest_md5sum
            else:
                cut += 1
        finally:
            hub.stop()
    assert cut >= 1, "no kill landed during a replacement: the test tested nothing"


def _put_row(http: httpx.Client, token: str, name: str, table: bytes) -> int:
    row = {
        "tableContent": {"size": len(table), "fileType": "parquet", "md5Sum": hashlib.md5(table).hexdigest()},
        "zarrContent": [], "access": "private", "name": name, "owner": USER, "license": "MIT",
        "md5Sum": hashlib.md5(table).hexdigest(), "annotations": {}, "polarisVersion": "0.10.0",
    }  # fmt: skip
    got = http.put(f"api/v1/dataset/{USER}/{name}", json=row, headers={"Authorization": f"Bearer {token}"})
    return got.status_code


def test_two_unfinished_replacements_roll_back_to_the_last_complete_version(data_dir: Path) -> None:
    """A replacement of a replacement that never completed still rolls back to the last complete version; a
    completed replacement drops the versions it overwrote."""
    a, b, c, d = (os.urandom(2000) for _ in range(4))
    key = f"dataset/{USER}/twice/table.parquet"
    retained = data_dir / "store" / "retained"
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            assert _put_row(http, token, "twice", a) == 201
            _s3(http, token, "twice", "write").put_object(Bucket=BUCKET, Key=key, Body=a)
            assert _put_row(http, token, "twice", b) == 200
            _s3(http, token, "twice", "write").put_object(Bucket=BUCKET, Key=key, Body=b)
            assert len(list(retained.iterdir())) == 1  # a, until b is known complete
            auth = {"Authorization": f"Bearer {token}"}
            assert http.get(f"api/v1/dataset/{USER}/twice", headers=auth).status_code == 200
            assert list(retained.iterdir()) == [], "a complete replacement keeps the versions it overwrote"
            assert _put_row(http, token, "twice", c) == 200  # replaces the complete b: never finished
            assert _put_row(http, token, "twice", d) == 200  # replaces the unfinished c: never finished
            assert http.get(f"api/v1/dataset/{USER}/twice", headers=auth).status_code == 409
        _kill(hub)
    finally:
        hub.stop()
    hub = _start(data_dir)
    try:
        status, row, stored = _served(hub, "twice")
        assert status == 200 and row is not None
        assert row["tableContent"]["md5Sum"] == hashlib.md5(b).hexdigest(), "not the last complete version"
        assert stored == {"table.parquet": hashlib.md5(b).hexdigest()}
        assert any(f"rolled back dataset {USER}/twice" in line for line in hub.output), hub.output
    finally:
        hub.stop()
