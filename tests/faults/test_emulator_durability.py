"""The local Hub loses nothing it acknowledged: kill -9 at random points, restart on the same data dir, verify.

Every emulator here is a real subprocess (``python -m polaris.emulator start --data-dir ... --port 0``) killed with
SIGKILL, so nothing runs at shutdown: what survives is what was on disk when the write was acknowledged.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pandas as pd
import pytest
import zarr
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from polaris.artifacts import DatasetV1
from polaris.artifacts.dataset import ColumnAnnotation
from polaris.hub.client import PolarisHubClient
from polaris.testing import LocalHub

pytestmark = pytest.mark.timeout(300)

BUCKET = "polaris-hub"
USER, PASSWORD = "durable-user", "durable-password"
HTTP_TIMEOUT = 30.0
ROUNDS = 5
SEED = 20261201
KILL_AFTER_SECONDS = (0.2, 1.5)
"""Range of the random delay between starting the background uploads and the kill."""
MULTIPART = TransferConfig(multipart_threshold=6 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
LARGE_SIZE = 11 * 1024 * 1024
STOP_WAIT_SECONDS = 30.0


# ------------------------------------------------------------------------------------------------ helpers
def _start(data_dir: Path) -> LocalHub:
    return LocalHub(users={USER: PASSWORD}, data_dir=data_dir).start()


def _kill(hub: LocalHub) -> None:
    assert hub.process is not None
    os.kill(hub.process.pid, signal.SIGKILL)
    hub.process.wait(timeout=STOP_WAIT_SECONDS)
    hub.stop()


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


def _row(name: str, table_md5: str, size: int) -> dict[str, Any]:
    return {
        "tableContent": {"size": size, "fileType": "parquet", "md5Sum": table_md5}, "zarrContent": [],
        "access": "private", "name": name, "owner": USER, "license": "MIT",
        "md5Sum": hashlib.md5(name.encode()).hexdigest(), "annotations": {}, "polarisVersion": "0.10.0",
    }  # fmt: skip


def _put_row(http: httpx.Client, hub_token: str, name: str, table: bytes) -> httpx.Response:
    return http.put(
        f"api/v1/dataset/{USER}/{name}",
        json=_row(name, hashlib.md5(table).hexdigest(), len(table)),
        headers={"Authorization": f"Bearer {hub_token}"},
    )


def _client(hub: LocalHub) -> PolarisHubClient:
    client = PolarisHubClient(hub.settings(username=USER, password=PASSWORD), cache_auth_token=False)
    client.show_progress = False
    client.login()
    return client


def _zarr_dataset(tmp: Path, name: str, rng: random.Random, rows: tuple[int, int] = (4, 8)) -> DatasetV1:
    root = tmp / f"{name}.zarr"
    group = zarr.open_group(str(root), mode="w", zarr_format=2)
    n = rng.randint(*rows)
    images = np.random.default_rng(rng.randint(0, 2**32 - 1)).random((n, 3, 4))
    group.create_array("img", shape=images.shape, chunks=(2, 3, 4), dtype="float64")[:] = images
    zarr.consolidate_metadata(str(root), zarr_format=2)
    table = pd.DataFrame({"img": [f"img#{i}" for i in range(n)], "y": np.linspace(0.0, 1.0, n)})
    return DatasetV1(
        name=name,
        owner=USER,
        table=table,
        annotations={"img": ColumnAnnotation(is_pointer=True)},
        zarr_root_path=str(root),
        license="CC-BY-4.0",
        description="durability test",
    )


class _Uploader(threading.Thread):
    """Uploads random objects (small PUTs, sometimes a multipart one) until stopped; records what was acknowledged."""

    def __init__(self, s3: Any, prefix: str, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.s3, self.prefix, self.rng = s3, prefix, rng
        self.acknowledged: dict[str, str] = {}
        self.failures = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stopped.is_set() and self.failures < 3:
            key = f"{self.prefix}/objects/{n:05d}.bin"
            body = os.urandom(LARGE_SIZE if self.rng.random() < 0.05 else self.rng.randint(1, 64 * 1024))
            try:
                if len(body) > MULTIPART.multipart_threshold:
                    self.s3.upload_fileobj(io.BytesIO(body), BUCKET, key, Config=MULTIPART)
                else:
                    self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            except Exception:
                self.failures += 1  # the emulator is gone: this write was never acknowledged
                continue
            self.acknowledged[key] = hashlib.md5(body).hexdigest()
            n += 1


class _ClientUpload(threading.Thread):
    """One ``upload_dataset`` of a Zarr dataset with many chunks, killed somewhere in the middle (or not)."""

    def __init__(self, hub: LocalHub, dataset: DatasetV1) -> None:
        super().__init__(daemon=True)
        self.hub, self.dataset = hub, dataset
        self.acknowledged: str | None = None

    def run(self) -> None:
        try:
            with _client(self.hub) as client:
                self.acknowledged = client.upload_dataset(self.dataset, access="private")["md5Sum"]
        except Exception:
            pass  # killed mid-upload: never acknowledged


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "hub-data"


# ------------------------------------------------------------------------------------------------ kill -9
def test_kill_9_at_random_points_loses_nothing_acknowledged(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(SEED)
    objects: dict[str, str] = {}  # every acknowledged object: key -> md5
    rows: dict[str, str] = {}  # every acknowledged raw row: name -> table md5
    client_datasets: dict[str, str] = {}  # every acknowledged client upload: name -> md5Sum
    interrupted: list[str] = []  # client uploads the kill cut short
    for round_ in range(ROUNDS):
        hub = _start(data_dir)
        try:
            with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
                token = _hub_token(http)
                name = f"raw-{round_}-{uuid.uuid4().hex[:6]}"
                table = os.urandom(rng.randint(100, 5000))
                assert _put_row(http, token, name, table).status_code == 201
                s3 = _s3(http, token, name, "write")
                s3.put_object(Bucket=BUCKET, Key=f"dataset/{USER}/{name}/table.parquet", Body=table)
                rows[name] = hashlib.md5(table).hexdigest()
                objects[f"dataset/{USER}/{name}/table.parquet"] = rows[name]

                with _client(hub) as client:
                    ds_name = f"client-{round_}-{uuid.uuid4().hex[:6]}"
                    stored = client.upload_dataset(_zarr_dataset(tmp_path, ds_name, rng), access="private")
                    client_datasets[ds_name] = stored["md5Sum"]

                uploader = _Uploader(s3, f"dataset/{USER}/{name}", rng)
                in_flight = _ClientUpload(hub, _zarr_dataset(tmp_path, f"inflight-{round_}", rng, rows=(60, 120)))
                uploader.start()
                in_flight.start()
                time.sleep(rng.uniform(*KILL_AFTER_SECONDS))
                _kill(hub)
                uploader.stopped.set()
                uploader.join(timeout=STOP_WAIT_SECONDS)
                in_flight.join(timeout=STOP_WAIT_SECONDS)
                objects.update(uploader.acknowledged)
                if in_flight.acknowledged is not None:
                    client_datasets[in_flight.dataset.name] = in_flight.acknowledged
                else:
                    interrupted.append(str(in_flight.dataset.name))
        finally:
            hub.stop()

    # a kill while the restarted emulator is still loading its objects must not break the data dir either
    process = subprocess.Popen(
        [sys.executable, "-m", "polaris.emulator", "start", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(0.5, 1.5))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=STOP_WAIT_SECONDS)

    hub = _start(data_dir)
    try:
        survived = completed = 0
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            for name, md5 in rows.items():
                got = http.get(f"api/v1/dataset/{USER}/{name}", headers={"Authorization": f"Bearer {token}"})
                assert got.status_code == 200, (name, got.text)
                assert got.json()["tableContent"]["md5Sum"] == md5
            readers = {name: _s3(http, token, name, "read") for name in rows}
            for key, md5 in objects.items():
                name = key.split("/")[2]
                s3 = readers.get(name) or _s3(http, token, name, "read")
                body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                if hashlib.md5(body).hexdigest() == md5:
                    survived += 1
        monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "fresh-cache"))
        with _client(hub) as client:
            for ds_name, md5 in client_datasets.items():
                back = client.get_dataset(USER, ds_name, verify_checksum="verify")
                assert back.md5sum == md5
            # an upload cut short is either entirely there (its last object landed) or not listed at all
            listed = set(client.list_datasets(limit=1000))
            for ds_name in interrupted:
                if f"{USER}/{ds_name}" in listed:
                    client.get_dataset(USER, ds_name, verify_checksum="verify")
                    completed += 1
        print(
            f"\nkill -9 survival over {ROUNDS} rounds: {survived}/{len(objects)} acknowledged objects, "
            f"{len(rows)}/{len(rows)} raw rows, {len(client_datasets)}/{len(client_datasets)} acknowledged client "
            f"datasets; {len(interrupted)} client uploads cut short: {completed} complete, "
            f"{len(interrupted) - completed} left unpublished at restart, 0 served rows pointing at missing objects"
        )
        assert survived == len(objects)
        assert len(objects) > ROUNDS * 2, "the background uploads acknowledged almost nothing: the test tested nothing"
    finally:
        hub.stop()


# ------------------------------------------------------------------------------------------------ consistency
def test_interrupted_replace_rolls_back_to_the_complete_version(data_dir: Path) -> None:
    old, new = os.urandom(3000), os.urandom(3000)
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            assert _put_row(http, token, "replaced", old).status_code == 201
            _s3(http, token, "replaced", "write").put_object(
                Bucket=BUCKET, Key=f"dataset/{USER}/replaced/table.parquet", Body=old
            )
            # the replace: new metadata acknowledged, then a kill before its table arrives
            assert _put_row(http, token, "replaced", new).status_code == 200
        _kill(hub)
    finally:
        hub.stop()

    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            got = http.get(f"api/v1/dataset/{USER}/replaced", headers={"Authorization": f"Bearer {token}"})
            assert got.status_code == 200
            assert got.json()["tableContent"]["md5Sum"] == hashlib.md5(old).hexdigest(), "new md5 over old objects"
            body = _s3(http, token, "replaced", "read").get_object(
                Bucket=BUCKET, Key=f"dataset/{USER}/replaced/table.parquet"
            )["Body"]
            assert body.read() == old
        assert any("rolled back dataset durable-user/replaced" in line for line in hub.output), hub.output
    finally:
        hub.stop()


def test_upload_that_never_completed_stays_unpublished_and_keeps_its_objects(data_dir: Path) -> None:
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            assert _put_row(http, token, "unfinished", b"the table that never came").status_code == 201
            _s3(http, token, "unfinished", "write").put_object(
                Bucket=BUCKET, Key=f"dataset/{USER}/unfinished/data.zarr/.zgroup", Body=b"{}"
            )
        _kill(hub)
    finally:
        hub.stop()
    assert len(list((data_dir / "store" / "objects").glob("*.obj"))) == 1

    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            got = http.get(f"api/v1/dataset/{USER}/unfinished", headers={"Authorization": f"Bearer {token}"})
            assert got.status_code == 409, "a row over objects that never arrived is served (or was deleted)"
            assert got.json()["detail"]["missing"] == ["table.parquet"]
            listed = http.get("api/v1/dataset", headers={"Authorization": f"Bearer {token}"}).json()["data"]
            assert "unfinished" not in {d["name"] for d in listed}
        assert any("dataset durable-user/unfinished stays unpublished" in line for line in hub.output), hub.output
        # the acknowledged object is kept: the owner can finish the upload
        assert len(list((data_dir / "store" / "objects").glob("*.obj"))) == 1
    finally:
        hub.stop()


def test_leftover_temp_files_are_removed_and_damaged_objects_moved_aside(data_dir: Path) -> None:
    table = os.urandom(2000)
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            assert _put_row(http, token, "kept", table).status_code == 201
            s3 = _s3(http, token, "kept", "write")
            s3.put_object(Bucket=BUCKET, Key=f"dataset/{USER}/kept/table.parquet", Body=table)
            s3.put_object(Bucket=BUCKET, Key=f"dataset/{USER}/kept/extra.bin", Body=b"extra bytes")
        _kill(hub)
    finally:
        hub.stop()
    store = data_dir / "store"
    (store / "tmp" / "half-written.part").write_bytes(b"a write the kill interrupted")
    extra = next(p for p in (store / "objects").glob("*.obj") if b"extra.bin" in p.read_bytes())
    extra.write_bytes(extra.read_bytes()[:5])  # damaged behind the emulator's back

    hub = _start(data_dir)
    try:
        assert list((store / "tmp").iterdir()) == []
        assert [p.name for p in (store / "damaged").iterdir()] == [extra.name]
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            s3 = _s3(http, token, "kept", "read")
            assert s3.get_object(Bucket=BUCKET, Key=f"dataset/{USER}/kept/table.parquet")["Body"].read() == table
            with pytest.raises(s3.exceptions.NoSuchKey):
                s3.get_object(Bucket=BUCKET, Key=f"dataset/{USER}/kept/extra.bin")
        assert any("damaged" in line for line in hub.output), hub.output
    finally:
        hub.stop()


# ------------------------------------------------------------------------------------------------ data dir lock
def test_second_emulator_on_the_same_data_dir_refuses_to_start(data_dir: Path) -> None:
    first = _start(data_dir)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "polaris.emulator", "start", "--data-dir", str(data_dir), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert second.returncode != 0
        assert "in use by another running emulator" in second.stderr, second.stderr
        assert f"pid {first.process.pid}" in second.stderr if first.process else False
        assert "ready at" not in second.stdout
        # the first one is unharmed
        assert httpx.get(first.url + "__emulator__/health", timeout=HTTP_TIMEOUT).status_code == 200
    finally:
        first.stop()
    # once the first has stopped, the data dir can be used again
    again = _start(data_dir)
    again.stop()


def test_v2_dataset_missing_a_zarr_file_is_not_served(data_dir: Path) -> None:
    """The check reads the V2 manifest: one chunk gone behind the emulator's back leaves the dataset unpublished."""
    seeded = LocalHub(seed="demo", data_dir=data_dir).start()
    seeded.stop()
    chunk = next(
        p
        for p in sorted((data_dir / "store" / "objects").glob("*.obj"))
        if b'"dataset/polaris-demo/freesolv-zarr/data.zarr/' in p.read_bytes()[-600:]
        and b".zarray" not in p.read_bytes()[-600:]
    )
    chunk.unlink()
    hub = LocalHub(data_dir=data_dir).start()  # no seed: nothing re-creates the demo content
    try:
        assert httpx.get(hub.url + "api/v2/dataset/polaris-demo/freesolv-zarr", timeout=HTTP_TIMEOUT).status_code == 409
        assert httpx.get(hub.url + "api/v1/dataset/polaris-demo/freesolv", timeout=HTTP_TIMEOUT).status_code == 200
        assert any("dataset_v2 polaris-demo/freesolv-zarr stays unpublished" in line for line in hub.output), hub.output
    finally:
        hub.stop()


def test_snapshot_of_an_older_emulator_is_migrated(data_dir: Path) -> None:
    """Data dirs written by emulators that saved a shutdown snapshot (``objects/index.json``) keep their objects."""
    import json

    table = os.urandom(1500)
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            assert _put_row(http, _hub_token(http), "legacy", table).status_code == 201
    finally:
        hub.stop()
    legacy = data_dir / "objects"
    legacy.mkdir()
    (legacy / "00000000.bin").write_bytes(table)
    md5 = hashlib.md5(table).hexdigest()
    index = [{"key": f"dataset/{USER}/legacy/table.parquet", "file": "00000000.bin",
              "content_type": "application/vnd.apache.parquet", "metadata": {"md5sum": md5}}]  # fmt: skip
    (legacy / "index.json").write_text(json.dumps(index))
    (data_dir / "objects.incomplete").mkdir()  # a snapshot a kill interrupted

    hub = _start(data_dir)
    try:
        assert not legacy.exists() and not (data_dir / "objects.incomplete").exists()
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            got = _s3(http, token, "legacy", "read").get_object(
                Bucket=BUCKET, Key=f"dataset/{USER}/legacy/table.parquet"
            )
            assert got["Body"].read() == table and got["Metadata"] == {"md5sum": hashlib.md5(table).hexdigest()}
            assert got["ContentType"] == "application/vnd.apache.parquet"
            assert (
                http.get(f"api/v1/dataset/{USER}/legacy", headers={"Authorization": f"Bearer {token}"}).status_code
                == 200
            )
    finally:
        hub.stop()


def test_no_storage_auth_saves_direct_writes_at_a_clean_stop(data_dir: Path) -> None:
    """--no-storage-auth hands out moto itself, past the durable write path: a clean stop saves what it holds."""
    table = os.urandom(1200)
    hub = LocalHub(users={USER: PASSWORD}, data_dir=data_dir, extra_args=["--no-storage-auth"]).start()
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            token = _hub_token(http)
            assert _put_row(http, token, "direct", table).status_code == 201
            s3 = _s3(http, token, "direct", "write")
            assert s3.meta.endpoint_url.rstrip("/") == hub.s3_direct_endpoint.rstrip("/")
            s3.put_object(Bucket=BUCKET, Key=f"dataset/{USER}/direct/table.parquet", Body=table)
    finally:
        hub.stop()  # SIGTERM: a clean stop
    hub = _start(data_dir)
    try:
        with httpx.Client(base_url=hub.url, timeout=HTTP_TIMEOUT) as http:
            s3 = _s3(http, _hub_token(http), "direct", "read")
            assert s3.get_object(Bucket=BUCKET, Key=f"dataset/{USER}/direct/table.parquet")["Body"].read() == table
    finally:
        hub.stop()
