"""Direct URL reads (polaris.hub.direct) against a real local HTTP server: HEAD + ranged GET, checksums, redirects."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr

from polaris.errors import ArtifactNotFoundError, PolarisChecksumError, StorageError
from polaris.hub.direct import DirectReader, zarr_v2_keys


class _Objects:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        self.forbidden: set[str] = set()
        self.log: list[tuple[str, str, dict[str, str]]] = []


def _handler(objects: _Objects) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _serve(self, body: bool) -> None:
            objects.log.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path in objects.redirects:
                self.send_response(307)
                self.send_header("Location", objects.redirects[self.path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path in objects.forbidden:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = objects.files.get(self.path)
            if data is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            rng = self.headers.get("Range")
            if rng and body:
                start, end = (int(x) for x in rng.removeprefix("bytes=").split("-"))
                part = data[start : end + 1]
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                self.wfile.write(part)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve(True)

        def do_HEAD(self) -> None:
            self._serve(False)

    return Handler


@pytest.fixture
def server() -> Iterator[tuple[str, _Objects]]:
    objects = _Objects()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(objects))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", objects
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_file_is_read_with_head_and_one_ranged_get_and_verified(server: tuple[str, _Objects]) -> None:
    base, objects = server
    data = b"roaring bytes" * 100
    objects.files["/b/training.roaring"] = data
    with DirectReader() as reader:
        got = reader.read_bytes(f"{base}/b/training.roaring", expected_md5=hashlib.md5(data).hexdigest())
    assert got == data
    methods = [(m, h.get("range"), "authorization" in h) for m, _, h in objects.log]
    assert methods == [("HEAD", None, False), ("GET", f"bytes=0-{len(data) - 1}", False)]


def test_mismatch_and_private_objects(server: tuple[str, _Objects], tmp_path: Path) -> None:
    base, objects = server
    objects.files["/b/test.roaring"] = b"tampered"
    objects.forbidden.add("/b/private.roaring")
    with DirectReader() as reader:
        with pytest.raises(PolarisChecksumError):
            reader.read_bytes(f"{base}/b/test.roaring", expected_md5="0" * 32, artifact="o/b")
        with pytest.raises(PolarisChecksumError):
            reader.download_file(f"{base}/b/test.roaring", tmp_path / "t.roaring", expected_md5="0" * 32)
        assert not list(tmp_path.iterdir())  # nothing kept, not even the .incomplete file
        with pytest.raises(ArtifactNotFoundError, match=r"[Ll]og in"):
            reader.read_bytes(f"{base}/b/private.roaring")
        with pytest.raises(ArtifactNotFoundError):
            reader.read_bytes(f"{base}/b/missing.roaring")


def test_redirects_stay_on_the_same_host(server: tuple[str, _Objects]) -> None:
    base, objects = server
    objects.files["/real"] = b"abc"
    objects.redirects["/moved"] = "/real"
    objects.redirects["/away"] = "http://169.254.0.1:9/steal"
    with DirectReader() as reader:
        assert reader.read_bytes(f"{base}/moved") == b"abc"
        with pytest.raises(StorageError, match="another host"):
            reader.read_bytes(f"{base}/away")
        with pytest.raises(StorageError, match="http"):
            reader.read_bytes("file:///etc/passwd")


def test_zarr_archive_from_consolidated_metadata(server: tuple[str, _Objects], tmp_path: Path) -> None:
    base, objects = server
    src = tmp_path / "src.zarr"
    root = zarr.open_group(str(src), mode="w", zarr_format=2)
    arr = root.create_array("x", shape=(10,), chunks=(4,), dtype="f8")
    arr[:8] = np.arange(8, dtype=float)  # the last chunk is never written: a missing chunk
    zarr.consolidate_metadata(str(src))
    for f in src.rglob("*"):
        if f.is_file():
            objects.files["/ds/data.zarr/" + f.relative_to(src).as_posix()] = f.read_bytes()
    doc = json.loads(objects.files["/ds/data.zarr/.zmetadata"])
    keys = zarr_v2_keys(doc)
    assert {"x/0", "x/1", "x/2", ".zmetadata", "x/.zarray"} <= set(keys)
    with DirectReader() as reader:
        out = reader.download_zarr(f"{base}/ds/data.zarr", tmp_path / "out.zarr", artifact="o/ds")
    copy = zarr.open_group(str(out), mode="r")
    np.testing.assert_array_equal(np.asarray(copy["x"][:8]), np.arange(8, dtype=float))
    manifest = {k: hashlib.md5(v).hexdigest() for k, v in objects.files.items() if k.startswith("/ds/")}
    manifest = {k.removeprefix("/ds/data.zarr/"): v for k, v in manifest.items()}
    manifest["x/0"] = "0" * 32
    with DirectReader() as reader, pytest.raises(PolarisChecksumError, match="x/0"):
        reader.download_zarr(f"{base}/ds/data.zarr", tmp_path / "bad.zarr", manifest=manifest, artifact="o/ds")
    assert not (tmp_path / "bad.zarr").exists() and not (tmp_path / "bad.zarr.incomplete").exists()
