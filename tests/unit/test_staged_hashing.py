"""StagedZarr.entries(): every file hashed once, in parallel, sorted as before; small files' bytes kept, bounded."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from polaris.checksum_md5 import file_md5
from polaris.hub.storage import zarr as staged_zarr
from polaris.hub.storage.zarr import StagedZarr


def _tree(root: Path) -> dict[str, Path]:
    sizes = {"a/empty": 0, "a/tiny": 5, "b/4k": 4096, "b/64k": 64 * 1024, "c/100k": 100_000, "d/5m": 5 * 1024 * 1024}
    sizes.update({f"e/{i:03d}": 3000 + i for i in range(150)})  # several batches of small files
    files = {}
    for rel, size in sizes.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        files[rel] = path
    return files


def test_entries_equal_serial_hashes_sorted_and_small_bodies_are_the_hashed_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _tree(tmp_path)
    threads: set[str] = set()
    original = staged_zarr._hash_one

    def spy(path: Path, keep: int | None) -> tuple[str, int, bytes | None]:
        threads.add(threading.current_thread().name)
        return original(path, keep)

    monkeypatch.setattr(staged_zarr, "_hash_one", spy)
    staged = StagedZarr(tmp_path, dict(reversed(list(files.items()))), [])
    entries = staged.entries()
    assert [e.path for e in entries] == sorted(files)
    for entry in entries:
        assert (entry.md5sum, entry.size) == file_md5(files[entry.path])
    assert staged.entries() == entries  # computed once
    if (os.cpu_count() or 1) > 1:
        assert len(threads) > 1 and all(name.startswith("polaris-hash") for name in threads)
    for rel, path in files.items():
        body = staged.body(rel)
        if path.stat().st_size <= staged_zarr.KEEP_FILE_MAX:
            assert body == path.read_bytes()
        else:
            assert body == path  # read again at upload


def test_kept_bytes_are_bounded_in_total(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staged_zarr, "KEEP_TOTAL_MAX", 10_000)
    files = {}
    for i in range(5):
        files[f"k{i}"] = tmp_path / f"k{i}"
        files[f"k{i}"].write_bytes(bytes([i]) * 4000)
    staged = StagedZarr(tmp_path, files, [])
    staged.entries()
    assert [isinstance(staged.body(f"k{i}"), bytes) for i in range(5)] == [True, True, False, False, False]


def test_a_file_grown_since_listing_is_hashed_whole_and_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "grew"
    path.write_bytes(b"0123456789" * 1000)
    md5, size, kept = staged_zarr._hash_one(path, 10)  # listed when it held 10 bytes
    assert (md5, size, kept) == (hashlib.md5(path.read_bytes()).hexdigest(), 10_000, None)
    assert staged_zarr._hash_one(path, 10_000) == (md5, 10_000, path.read_bytes())
