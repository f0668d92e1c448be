"""Object storage of the local Hub: a moto S3 server on loopback, one bucket, snapshots to the data dir.

moto keeps objects in memory and does not check credentials or signatures. Clients reach it through the
S3 gateway of :mod:`polaris.emulator.s3gate` (``public_endpoint``), which checks the storage token on every
request; the emulator itself (seeding, snapshots, evaluation) talks to moto directly (``endpoint``).
With ``--data-dir`` the bucket is written to ``<data-dir>/objects/`` on shutdown and loaded back at start.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

BUCKET = "polaris-hub"
REGION = "us-east-1"
# moto accepts any credentials; these are what the emulator itself uses.
SERVICE_KEY = "polaris-emulator"
SERVICE_SECRET = "polaris-emulator-secret"
SNAPSHOT_DIR = "objects"
SNAPSHOT_INDEX = "index.json"
LIST_PAGE_SIZE = 1000

log = logging.getLogger(__name__)


class ObjectStore:
    """The moto server plus a boto3 client the emulator uses for seeding, snapshots and evaluation."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server: Any = None
        self._client: Any = None
        self.endpoint = ""
        """moto itself (no credentials checked)."""
        self.public_endpoint = ""
        """What storage tokens hand out: the gateway when one runs, else moto."""

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self._host, port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}/"
        self.public_endpoint = self.endpoint
        self._client = self._make_client()
        with contextlib.suppress(self._client.exceptions.BucketAlreadyOwnedByYou):
            self._client.create_bucket(Bucket=BUCKET)

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=SERVICE_KEY,
            aws_secret_access_key=SERVICE_SECRET,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def client(self) -> Any:
        if self._client is None:
            raise RuntimeError("object store not started")
        return self._client

    # ------------------------------------------------------------- objects
    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        import hashlib

        self.client.put_object(
            Bucket=BUCKET,
            Key=key,
            Body=data,
            ContentType=content_type,
            Metadata={"md5sum": hashlib.md5(data).hexdigest()},
        )

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=BUCKET, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(response["Body"].read())

    def keys(self, prefix: str = "") -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=BUCKET, Prefix=prefix, PaginationConfig={"PageSize": LIST_PAGE_SIZE}):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    # ----------------------------------------------------------- snapshots
    def snapshot(self, data_dir: Path) -> int:
        """Write every object of the bucket under ``data_dir/objects``; returns the number written."""
        target = data_dir / SNAPSHOT_DIR
        staging = data_dir / (SNAPSHOT_DIR + ".incomplete")
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
        index: list[dict[str, Any]] = []
        for n, key in enumerate(self.keys()):
            response = self.client.get_object(Bucket=BUCKET, Key=key)
            blob = f"{n:08d}.bin"
            (staging / blob).write_bytes(response["Body"].read())
            index.append(
                {
                    "key": key,
                    "file": blob,
                    "content_type": response.get("ContentType", "application/octet-stream"),
                    "metadata": response.get("Metadata", {}),
                }
            )
        (staging / SNAPSHOT_INDEX).write_text(json.dumps(index))
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return len(index)

    def restore(self, data_dir: Path) -> int:
        """Load a snapshot written by :meth:`snapshot`; returns the number of objects restored."""
        source = data_dir / SNAPSHOT_DIR
        index_file = source / SNAPSHOT_INDEX
        if not index_file.exists():
            return 0
        index = json.loads(index_file.read_text())
        for item in index:
            self.client.put_object(
                Bucket=BUCKET,
                Key=item["key"],
                Body=(source / item["file"]).read_bytes(),
                ContentType=item["content_type"],
                Metadata=item["metadata"],
            )
        return len(index)


def content_md5(data: bytes) -> str:
    import hashlib

    return base64.b64encode(hashlib.md5(data).digest()).decode()
