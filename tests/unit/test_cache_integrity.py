"""The download cache serves only what it verified: unverified reads live apart, damaged entries are never served."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from polaris.hub.cache import CacheKey, DownloadCache

KEY = CacheKey("dataset", "org-a/my-data", "0123456789abcdef0123456789abcdef")


def _folder_fill(content: bytes) -> Callable[[Path], None]:
    def fill(path: Path) -> None:
        (path / "x").mkdir(parents=True)
        (path / "x" / "0").write_bytes(content)
        (path / "table.parquet").write_bytes(b"PAR1" + content + b"PAR1")

    return fill


def test_unverified_fill_never_satisfies_a_verified_fetch(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    unverified = cache.fetch(KEY, _folder_fill(b"tampered"), verified=False)
    assert (unverified / "x" / "0").read_bytes() == b"tampered"
    assert not cache.has(KEY)
    assert unverified != cache.entry(KEY)
    # a second unverified read reuses it ...
    calls: list[Path] = []

    def counting(path: Path) -> None:
        calls.append(path)
        _folder_fill(b"good")(path)

    assert cache.fetch(KEY, counting, verified=False) == unverified and calls == []
    # ... a verified read does not
    verified = cache.fetch(KEY, counting)
    assert len(calls) == 1 and (verified / "x" / "0").read_bytes() == b"good"
    # and once a verified entry exists, unverified reads get it too
    assert cache.fetch(KEY, counting, verified=False) == verified and len(calls) == 1
    kinds = sorted((info.verified, info.path == verified) for info in cache.entries())
    assert kinds == [(False, False), (True, True)]


def test_zeroed_chunk_is_detected_and_refetched(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    entry = cache.fetch(KEY, _folder_fill(b"abcdefgh"))
    chunk = entry / "x" / "0"
    time.sleep(0.01)
    chunk.write_bytes(b"\x00" * 8)  # same size, different bytes
    report = cache.verify(KEY, full=False)
    assert not report.ok and "x/0" in report.problems[0]
    again = cache.fetch(KEY, _folder_fill(b"abcdefgh"))
    assert (again / "x" / "0").read_bytes() == b"abcdefgh"
    assert cache.verify(KEY).ok


def test_truncated_table_is_detected(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    entry = cache.fetch(KEY, _folder_fill(b"abcdefgh"))
    table = entry / "table.parquet"
    with table.open("r+b") as fh:
        fh.truncate(5)
    assert not cache.verify(KEY, full=False).ok
    fills: list[Path] = []

    def fill(path: Path) -> None:
        fills.append(path)
        _folder_fill(b"abcdefgh")(path)

    cache.fetch(KEY, fill)
    assert len(fills) == 1 and (entry / "table.parquet").stat().st_size == 16


def test_stealthy_change_with_restored_mtime_is_found_by_full_verify(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    entry = cache.fetch(KEY, _folder_fill(b"abcdefgh"))
    chunk = entry / "x" / "0"
    stat = chunk.stat()
    chunk.write_bytes(b"ABCDEFGH")
    os.utime(chunk, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.verify(KEY, full=False).ok  # the cheap check trusts unchanged size + mtime
    report = cache.verify(KEY, full=True)
    assert not report.ok and "md5" in report.problems[0]


def test_extra_and_missing_files_are_problems(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    entry = cache.fetch(KEY, _folder_fill(b"abc"))
    (entry / "x" / "0").unlink()
    (entry / "x" / "1").write_bytes(b"planted")
    problems = cache.verify(KEY).problems
    assert any("missing file x/0" in p for p in problems) and any("unexpected file x/1" in p for p in problems)


def test_entry_without_manifest_is_not_served(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    cache.fetch(KEY, _folder_fill(b"abc"))
    cache.manifest_path(KEY).unlink()
    assert not cache.has(KEY)
    assert not cache.verify(KEY).ok
    entry = cache.fetch(KEY, _folder_fill(b"new"))
    assert (entry / "x" / "0").read_bytes() == b"new"


def test_entries_remove_and_prune(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path)
    keys = [CacheKey("dataset", f"org/d{i}", f"{i}" * 32) for i in range(3)]
    for i, key in enumerate(keys):
        cache.fetch(key, _folder_fill(b"x" * (100 * (i + 1))))
        manifest = cache.manifest_path(key)
        os.utime(manifest, (1_000_000 + i, 1_000_000 + i))  # d0 least recently used
    infos = cache.entries()
    assert [info.key for info in infos] == keys[::-1]
    assert [info.size_bytes for info in infos] == [2 * 300 + 8, 2 * 200 + 8, 2 * 100 + 8]
    assert all(info.verified and info.kind == "dataset" for info in infos)
    assert infos[0].artifact_id == "org/d2" and infos[0].last_used == 1_000_002

    would = cache.prune(max_bytes=700, dry_run=True)
    assert [info.key for info in would] == [keys[0], keys[1]]
    assert len(cache.entries()) == 3
    removed = cache.prune(max_bytes=700)
    assert [info.key for info in removed] == [keys[0], keys[1]]
    assert [info.key for info in cache.entries()] == [keys[2]]

    cache.fetch(keys[0], _folder_fill(b"fresh"))
    assert [info.key for info in cache.prune(older_than=3600)] == [keys[2]]
    cache.remove(keys[0])
    assert cache.entries() == [] and not cache.entry(keys[0]).exists()


def test_new_folders_are_owner_only(tmp_path: Path) -> None:
    cache = DownloadCache(tmp_path / "cache")
    cache.fetch(KEY, _folder_fill(b"abc"))
    assert cache.entry(KEY).parent.stat().st_mode & 0o077 == 0


def test_digests_computed_while_streaming_are_recorded_without_reading_the_files_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    import polaris.hub.cache as cache_module

    hashed: list[str] = []
    real = cache_module._md5_file

    def counting(path: Path) -> str:
        hashed.append(path.name)
        return real(path)

    monkeypatch.setattr(cache_module, "_md5_file", counting)
    chunk, table = b"streamed-chunk", b"PAR1streamedPAR1"

    def fill(path: Path) -> dict[str, tuple[str, int]]:
        (path / "x").mkdir(parents=True)
        (path / "x" / "0").write_bytes(chunk)
        (path / "table.parquet").write_bytes(table)
        (path / "metadata.json").write_text("{}")
        return {
            "x/0": (hashlib.md5(chunk).hexdigest().upper(), len(chunk)),  # as streamed, case aside
            "table.parquet": (hashlib.md5(table).hexdigest(), len(table) + 1),  # wrong size: hashed after all
        }

    cache = DownloadCache(tmp_path)
    entry = cache.fetch(KEY, fill)
    assert sorted(hashed) == ["metadata.json", "table.parquet"]  # the chunk was not read again
    assert cache.verify(KEY).ok  # what was recorded is what is on disk
    time.sleep(0.01)
    (entry / "x" / "0").write_bytes(b"X" * len(chunk))  # and a later change is still caught
    assert not cache.verify(KEY, full=False).ok
