"""The content-addressed download cache: one writer per entry, atomic entries, nothing kept on failure."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest

from polaris._paths import data_dir
from polaris.errors import PolarisChecksumError
from polaris.hub.cache import CacheKey, DownloadCache

KEY = CacheKey("dataset", "org-a/my-data", "0123456789abcdef0123456789abcdef")
PAYLOAD = b"polaris" * 10_000


def write_payload(path: Path) -> None:
    path.write_bytes(PAYLOAD)


def test_default_root_is_the_data_dir() -> None:
    assert DownloadCache().root == data_dir()


def test_entry_is_content_addressed(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    other = CacheKey("dataset", "org-a/my-data", "f" * 32)
    assert cache.entry(KEY) != cache.entry(other)
    assert cache.entry(KEY) == tmp_path / "dataset" / "org-a" / "my-data" / KEY.checksum


def test_hostile_key_parts_stay_inside_the_root(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    entry = cache.entry(CacheKey("dataset", "../../etc/passwd", "x.incomplete"))
    assert entry.resolve().is_relative_to(tmp_path.resolve())
    assert ".." not in entry.relative_to(tmp_path).parts
    assert not entry.name.endswith(".incomplete")


def test_second_fetch_transfers_nothing(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    calls = []

    def fill(path: Path) -> None:
        calls.append(path)
        write_payload(path)

    assert not cache.has(KEY)
    first = cache.fetch(KEY, fill)
    second = cache.fetch(KEY, fill)
    assert first == second == cache.entry(KEY)
    assert first.read_bytes() == PAYLOAD
    assert len(calls) == 1
    assert calls[0].name.endswith(".incomplete")
    assert cache.has(KEY)


def test_concurrent_writers_fill_once_and_never_see_partial_data(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    fills = []
    lock = threading.Lock()

    def slow_fill(path: Path) -> None:
        with lock:
            fills.append(1)
        with path.open("wb") as fh:
            for i in range(0, len(PAYLOAD), 7000):
                fh.write(PAYLOAD[i : i + 7000])
                time.sleep(0.002)

    results: list[bytes] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(cache.fetch(KEY, slow_fill).read_bytes())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(fills) == 1
    assert results == [PAYLOAD] * 8
    assert not cache.incomplete(KEY).exists()


def test_interrupted_download_leaves_no_entry(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)

    def interrupted(path: Path) -> None:
        path.write_bytes(PAYLOAD[:100])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.fetch(KEY, interrupted)
    assert not cache.has(KEY)
    assert not cache.incomplete(KEY).exists()
    # the next fetch starts clean and succeeds
    assert cache.fetch(KEY, write_payload).read_bytes() == PAYLOAD


def test_leftover_incomplete_from_a_crash_is_discarded(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    leftover = cache.incomplete(KEY)
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a file from a killed process")
    assert not cache.has(KEY)

    def fill(path: Path) -> None:
        assert not path.exists()
        write_payload(path)

    assert cache.fetch(KEY, fill).read_bytes() == PAYLOAD


def test_checksum_mismatch_leaves_nothing(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)

    def verifying_fill(path: Path) -> None:
        folder = path
        folder.mkdir()
        (folder / "chunk").write_bytes(b"corrupt")
        actual = hashlib.md5(b"corrupt").hexdigest()
        raise PolarisChecksumError(
            "mismatch", artifact="org-a/my-data", chunk="chunk", expected="0" * 32, actual=actual
        )

    with pytest.raises(PolarisChecksumError):
        cache.fetch(KEY, verifying_fill)
    assert not cache.has(KEY)
    assert not cache.incomplete(KEY).exists()


def test_fill_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    with pytest.raises(FileNotFoundError):
        cache.fetch(KEY, lambda path: None)
    assert not cache.has(KEY)


def test_folder_entries_and_remove(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)

    def fill(path: Path) -> None:
        (path / "a").mkdir(parents=True)
        (path / "a" / "0").write_bytes(b"x")

    entry = cache.fetch(KEY, fill)
    assert (entry / "a" / "0").read_bytes() == b"x"
    cache.remove(KEY)
    assert not cache.has(KEY)
