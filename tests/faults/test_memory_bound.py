"""Memory of a download follows what is in flight, not the archive: a 256 MiB archive, 128 requests allowed in
flight, peak RSS growth of the downloading process (a fresh child, so nothing else inflates its peak) well under
the archive's size. Real S3 protocol: moto on loopback in this process; the child downloads over HTTP."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

BUCKET = "polaris-memory"
N_OBJECTS = 64
OBJECT_BYTES = 4 * 1024 * 1024
LIMIT_MIB = 128.0
"""The bound asserted (half the archive; measured ~45 MiB): each request in flight holds one 1 MiB streamed block,
and the session's in-flight byte budget (``BYTES_IN_FLIGHT_MAX``) bounds those blocks together."""

CHILD = r"""
import json, os, sys, threading, time
from pathlib import Path

from polaris.hub.storage import StorageSession, StorageToken
from polaris.hub.storage.concurrency import AdaptiveLimit

args = json.loads(sys.argv[1])
token = StorageToken.from_response({
    "access_token": "t", "token_type": "Storage", "expires_in": 3600,
    "extra_data": {"key": "a", "secret": "b", "endpoint": args["endpoint"],
                   "paths": {"root": f"polarisfs://{args['bucket']}/x/table.parquet"}},
})
with StorageSession(lambda: token, max_workers=128, progress=False) as session:
    session.transport.limit = AdaptiveLimit(128, initial=128)  # high concurrency from the first request
    session.list_objects(args["store"])  # warm the connection pool and the imports
    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * page

    base = peak = rss()
    stop = threading.Event()

    def sample():
        global peak
        while not stop.is_set():
            peak = max(peak, rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    digests = {}
    try:
        session.download_zarr(args["store"], Path(args["dest"]), manifest=args["manifest"], digests=digests)
    finally:
        stop.set()
        sampler.join(10)
    assert len(digests) == len(args["manifest"])
    print(json.dumps({"grown_mib": (max(peak, rss()) - base) / 2**20, "limit": session.transport.limit.limit}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_peak_rss_of_a_large_download_at_high_concurrency_is_bounded(endpoint: str, tmp_path: Path) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
    )
    s3.create_bucket(Bucket=BUCKET)
    manifest = {}
    for i in range(N_OBJECTS):
        body = os.urandom(OBJECT_BYTES)
        name = f"x/{i}"
        s3.put_object(Bucket=BUCKET, Key=f"big/{name}", Body=body)
        manifest[name] = hashlib.md5(body).hexdigest()
    args = {
        "endpoint": endpoint,
        "bucket": BUCKET,
        "store": f"polarisfs://{BUCKET}/big",
        "dest": str(tmp_path / "copy"),
        "manifest": manifest,
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, timeout=300, check=False
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    archive_mib = N_OBJECTS * OBJECT_BYTES / 2**20
    assert result["grown_mib"] < LIMIT_MIB < archive_mib, result
    copied = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert copied == sorted(manifest)
