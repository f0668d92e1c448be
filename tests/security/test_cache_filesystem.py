"""The caches never follow what they did not create: planted links, FIFOs, umask 000, swappable parents.

Each test plants what an attacker (or a damaged disk) could leave in a temporary cache and checks that nothing
outside the cache is read, truncated, chmod-ed or deleted, that nothing blocks, and that the user gets a typed error
saying what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from polaris.errors import InvalidArtifactError, UnsafeCacheError
from polaris.hub.cache import CacheKey, DownloadCache
from polaris.hub.storage.lazy import HubZarrStore
from polaris.hub.token_cache import CachedTokens, TokenCache

pytestmark = pytest.mark.timeout(120)

KEY = CacheKey("dataset", "org-a/my-data", "0123456789abcdef0123456789abcdef")
PAYLOAD = b"polaris" * 1000
SECRET = b"the victim's private notes\n"
HUB_URL = "http://127.0.0.1:9/"
HANG_LIMIT = 20.0  # seconds: far more than any of these calls needs, far less than "forever"


def _write(path: Path) -> None:
    path.write_bytes(PAYLOAD)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the cache that must stay exactly as it is (content and mode 0644)."""
    target = tmp_path / "outside" / "notes.txt"
    target.parent.mkdir()
    target.write_bytes(SECRET)
    os.chmod(target, 0o644)
    return target


def _intact(target: Path) -> None:
    assert target.read_bytes() == SECRET, "a file outside the cache was truncated or rewritten"
    assert _mode(target) == 0o644, "a file outside the cache was chmod-ed"


@pytest.fixture
def cache(tmp_path: Path) -> DownloadCache:
    root = tmp_path / "cache" / "data"
    root.mkdir(parents=True, mode=0o700)
    os.chmod(root.parent, 0o700)
    return DownloadCache(root)


def _in_time(call: Callable[[], Any], *, fifos: list[Path]) -> Any:
    """Run ``call`` in a thread; fail (after unblocking it) if it has not returned within HANG_LIMIT seconds."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(HANG_LIMIT)
    hung = worker.is_alive()
    if hung:  # open the FIFOs for writing so the blocked reader returns and the thread ends
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
    assert not hung, f"{call} blocked on a FIFO"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# ------------------------------------------------------------------ the lazy chunk cache
def _store(chunks: Path, manifest: dict[str, str]) -> HubZarrStore:
    def no_storage() -> Any:
        raise ConnectionAbortedError("storage was asked")  # each probe must be decided locally

    return HubZarrStore(no_storage, "s3://bucket/dataset/a/b/data.zarr", manifest=manifest, cache_dir=chunks)


def test_manifest_md5_that_is_an_absolute_path_never_names_a_file(cache: DownloadCache, victim: Path) -> None:
    store = _store(cache.root / "chunks", {"x/0": str(victim)})
    with pytest.raises(InvalidArtifactError) as err:
        store.fetch("x/0")
    assert "not 32 hex digits" in err.value.message and "x/0" in err.value.message
    assert err.value.hint
    _intact(victim)


def test_manifest_md5_that_climbs_out_of_the_cache_never_names_a_file(cache: DownloadCache) -> None:
    chunks = cache.root / "chunks"
    chunks.mkdir(mode=0o700)
    planted = (chunks / ".." / "../../x").resolve()  # what <chunks>/<md5[:2]>/<md5> named for md5 "../../x"
    planted.write_bytes(SECRET)
    store = _store(chunks, {"x/0": "../../x"})
    with pytest.raises(InvalidArtifactError):
        store.fetch("x/0")
    assert planted.read_bytes() == SECRET


@pytest.mark.parametrize("value", ["", "0" * 31, "0" * 33, "g" * 32, "0" * 30 + "/x", "0" * 31 + "\x00"])
def test_malformed_md5_values_are_refused_before_storage_is_asked(cache: DownloadCache, value: str) -> None:
    with pytest.raises(InvalidArtifactError):
        _store(cache.root / "chunks", {"x/0": value}).fetch("x/0")


def test_a_planted_chunk_is_never_served(cache: DownloadCache) -> None:
    real = b"the real chunk"
    md5 = hashlib.md5(real).hexdigest()
    folder = cache.root / "chunks" / md5[:2]
    folder.mkdir(parents=True, mode=0o700)
    (folder / md5).write_bytes(b"planted bytes")  # named after the right md5, other content
    store = _store(cache.root / "chunks", {"x/0": md5})
    with pytest.raises(ConnectionAbortedError):  # a miss: the store goes to storage for the real bytes
        store.fetch("x/0")
    assert not (folder / md5).exists(), "the damaged chunk was left in the cache"
    assert store.stats.cache_hits == 0


def test_a_verified_chunk_is_served_from_the_cache_and_rechecked(cache: DownloadCache) -> None:
    from polaris.hub.storage.chunk_cache import ChunkCache

    real = b"the real chunk" * 100
    md5 = hashlib.md5(real).hexdigest()
    chunks = ChunkCache(cache.root / "chunks")
    chunks.put(md5, real)
    store = _store(cache.root / "chunks", {"x/0": md5.upper()})  # manifests may spell hex in capitals
    assert store.fetch("x/0") == real
    assert store.stats.cache_hits == 1
    path = chunks.path_for(md5)
    before = os.stat(path)
    path.write_bytes(real[:-1] + b"!")  # damaged in place later on, same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10_000_000))
    with pytest.raises(ConnectionAbortedError):
        store.fetch("x/0")
    assert not path.exists()


def test_a_chunk_damaged_with_its_times_kept_is_caught_by_a_new_process(cache: DownloadCache) -> None:
    from polaris.hub.storage import chunk_cache

    real = b"the real chunk" * 100
    md5 = hashlib.md5(real).hexdigest()
    chunk_cache.ChunkCache(cache.root / "chunks").put(md5, real)
    path = chunk_cache.ChunkCache(cache.root / "chunks").path_for(md5)
    before = os.stat(path)
    with open(path, "r+b") as handle:  # same inode, same size, times put back
        handle.write(b"!")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    chunk_cache._verified.clear()  # what a new process knows
    assert chunk_cache.ChunkCache(cache.root / "chunks").get(md5) is None
    assert not path.exists()


def test_a_good_chunk_linked_under_another_md5_is_not_served(cache: DownloadCache) -> None:
    from polaris.hub.storage.chunk_cache import ChunkCache

    chunks = ChunkCache(cache.root / "chunks")
    good = b"good chunk"
    good_md5 = hashlib.md5(good).hexdigest()
    other_md5 = hashlib.md5(b"other chunk").hexdigest()
    chunks.put(good_md5, good)
    assert chunks.get(good_md5) == good
    chunks.path_for(other_md5).parent.mkdir(mode=0o700, exist_ok=True)
    os.link(chunks.path_for(good_md5), chunks.path_for(other_md5))
    assert chunks.get(other_md5) is None
    assert chunks.get(good_md5) == good


def test_links_and_fifos_in_the_chunk_cache_are_misses_not_reads(cache: DownloadCache, victim: Path) -> None:
    secret_md5 = hashlib.md5(SECRET).hexdigest()  # a link to a file whose md5 is right is still not read
    fifo_md5 = "f" * 32
    for md5 in (secret_md5, fifo_md5):
        (cache.root / "chunks" / md5[:2]).mkdir(parents=True, mode=0o700, exist_ok=True)
    (cache.root / "chunks" / secret_md5[:2] / secret_md5).symlink_to(victim)
    os.mkfifo(cache.root / "chunks" / fifo_md5[:2] / fifo_md5)
    store = _store(cache.root / "chunks", {"x/0": secret_md5, "x/1": fifo_md5})
    for key in ("x/0", "x/1"):
        with pytest.raises(ConnectionAbortedError):
            _in_time(lambda key=key: store.fetch(key), fifos=[cache.root / "chunks" / fifo_md5[:2] / fifo_md5])
    _intact(victim)
    assert store.stats.cache_hits == 0


def test_a_symlinked_chunk_folder_is_not_written_through(cache: DownloadCache, victim: Path) -> None:
    from polaris.hub.storage.chunk_cache import ChunkCache

    data = b"verified chunk"
    md5 = hashlib.md5(data).hexdigest()
    (cache.root / "chunks").mkdir(mode=0o700)
    (cache.root / "chunks" / md5[:2]).symlink_to(victim.parent, target_is_directory=True)
    ChunkCache(cache.root / "chunks").put(md5, data)  # logs a warning, keeps nothing
    assert sorted(os.listdir(victim.parent)) == ["notes.txt"]
    assert ChunkCache(cache.root / "chunks").get(md5) is None


def test_chunks_are_owner_only_under_umask_000(cache: DownloadCache) -> None:
    from polaris.hub.storage.chunk_cache import ChunkCache

    data = b"verified chunk"
    md5 = hashlib.md5(data).hexdigest()
    old = os.umask(0)
    try:
        ChunkCache(cache.root / "chunks").put(md5, data)
    finally:
        os.umask(old)
    assert _mode(cache.root / "chunks") == 0o700
    assert _mode(cache.root / "chunks" / md5[:2]) == 0o700
    assert _mode(cache.root / "chunks" / md5[:2] / md5) == 0o600


# ------------------------------------------------------------------ lock files
def test_symlinked_entry_lock_does_not_truncate_or_chmod_its_target(cache: DownloadCache, victim: Path) -> None:
    entry = cache.entry(KEY)
    entry.parent.mkdir(parents=True, mode=0o700)
    for folder in (cache.root / "dataset", cache.root / "dataset" / "org-a"):
        os.chmod(folder, 0o700)
    entry.with_name(entry.name + ".lock").symlink_to(victim)
    with pytest.raises(UnsafeCacheError) as err:
        cache.fetch(KEY, _write)
    assert "symbolic link" in err.value.reason
    assert err.value.hint and "Remove" in err.value.hint
    _intact(victim)
    assert not entry.exists()


def test_fifo_as_entry_lock_is_refused_without_blocking(cache: DownloadCache) -> None:
    entry = cache.entry(KEY)
    entry.parent.mkdir(parents=True, mode=0o700)
    lock = entry.with_name(entry.name + ".lock")
    os.mkfifo(lock)
    with pytest.raises(UnsafeCacheError) as err:
        _in_time(lambda: cache.fetch(KEY, _write), fifos=[lock])
    assert "FIFO" in err.value.reason


def test_symlinked_token_lock_does_not_truncate_or_chmod_its_target(tmp_path: Path, victim: Path) -> None:
    tokens = TokenCache(HUB_URL, folder=tmp_path / "polaris" / "tokens")
    tokens.lock_folder.mkdir(parents=True, mode=0o700)
    os.chmod(tokens.lock_folder.parent, 0o700)
    (tokens.lock_folder / f"{tokens.path.stem}.lock").symlink_to(victim)
    with pytest.raises(UnsafeCacheError) as err, tokens.locked(timeout=5):
        pass
    assert "symbolic link" in err.value.reason
    _intact(victim)


def test_hard_linked_lock_of_ours_is_neither_truncated_nor_chmod_ed(cache: DownloadCache, victim: Path) -> None:
    entry = cache.entry(KEY)
    entry.parent.mkdir(parents=True, mode=0o700)
    os.link(victim, entry.with_name(entry.name + ".lock"))  # same file, our own: locking must not change it
    assert cache.fetch(KEY, _write).read_bytes() == PAYLOAD
    _intact(victim)


def test_lock_files_are_0600_under_umask_000_and_locks_exclude_each_other(cache: DownloadCache) -> None:
    from polaris.hub._fs_safety import CacheLockTimeout

    old = os.umask(0)
    try:
        with cache.lock(KEY):
            lock = cache.entry(KEY).with_name(cache.entry(KEY).name + ".lock")
            assert _mode(lock) == 0o600
            for folder in (cache.root / "dataset", cache.root / "dataset" / "org-a", cache.root / "dataset" / "org-a"):
                assert _mode(folder) == 0o700
            seen: dict[str, BaseException] = {}

            def other() -> None:
                try:
                    with cache.lock(KEY, timeout=0.3):
                        pass
                except BaseException as exc:
                    seen["error"] = exc

            thread = threading.Thread(target=other)
            thread.start()
            thread.join(HANG_LIMIT)
        assert isinstance(seen.get("error"), CacheLockTimeout), seen
        assert isinstance(seen["error"], TimeoutError)
    finally:
        os.umask(old)


def test_token_lock_is_reentrant_and_shared_between_processes(tmp_path: Path) -> None:
    tokens = TokenCache(HUB_URL, folder=tmp_path / "polaris" / "tokens")
    script = (
        "import sys; from pathlib import Path; from polaris.hub.token_cache import TokenCache\n"
        f"t = TokenCache({HUB_URL!r}, folder=Path({str(tokens.folder)!r}))\n"
        "try:\n"
        "    with t.locked(timeout=0.5): print('acquired')\n"
        "except TimeoutError: print('timeout')\n"
        "print('filelock' in sys.modules)\n"
    )
    with tokens.locked(timeout=5), tokens.locked(timeout=5):  # re-entrant in one thread
        held = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    free = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert held.stdout.split() == ["timeout", "False"], held.stderr
    # POSIX locks are taken with flock: filelock (any version) is not even imported
    assert free.stdout.split() == ["acquired", "False"], free.stderr


def test_fifo_as_token_file_is_refused_without_blocking(tmp_path: Path) -> None:
    tokens = TokenCache(HUB_URL, folder=tmp_path / "polaris" / "tokens")
    tokens.folder.mkdir(parents=True, mode=0o700)
    os.chmod(tokens.folder.parent, 0o700)
    os.mkfifo(tokens.path, 0o600)
    with pytest.raises(UnsafeCacheError) as err:
        _in_time(tokens.load, fifos=[tokens.path])
    assert "not a regular file" in err.value.reason


def test_a_resumed_download_never_continues_through_a_link(cache: DownloadCache, victim: Path) -> None:
    tmp = cache.incomplete(KEY)
    tmp.parent.mkdir(parents=True, mode=0o700)
    tmp.symlink_to(victim)

    def fill(path: Path) -> None:
        assert not path.is_symlink(), "the fill was handed a link"
        path.write_bytes(PAYLOAD)

    assert cache.fetch(KEY, fill, resume=True).read_bytes() == PAYLOAD
    _intact(victim)


# ------------------------------------------------------------------ FIFOs where the cache reads its manifests
@pytest.fixture
def fifo_manifest(cache: DownloadCache) -> Path:
    cache.fetch(KEY, _write)
    manifest = cache.manifest_path(KEY)
    manifest.unlink()
    os.mkfifo(manifest)
    return manifest


def test_fifo_manifest_does_not_hang_listing_or_pruning(cache: DownloadCache, fifo_manifest: Path) -> None:
    assert _in_time(cache.entries, fifos=[fifo_manifest]) == []
    assert _in_time(lambda: cache.prune(older_than=-1), fifos=[fifo_manifest]) == []
    assert _in_time(lambda: cache.verify(KEY), fifos=[fifo_manifest]).ok is False


def test_fifo_manifest_does_not_hang_a_get_which_downloads_again(cache: DownloadCache, fifo_manifest: Path) -> None:
    path = _in_time(lambda: cache.fetch(KEY, _write), fifos=[fifo_manifest])
    assert path.read_bytes() == PAYLOAD
    assert stat.S_ISREG(os.lstat(fifo_manifest).st_mode), "the FIFO was not replaced by a real manifest"
    assert [info.key for info in cache.entries()] == [KEY]


def test_fifo_inside_an_entry_is_reported_not_read(cache: DownloadCache) -> None:
    def fill(path: Path) -> None:
        path.mkdir()
        (path / "a.bin").write_bytes(PAYLOAD)

    entry = cache.fetch(KEY, fill)
    (entry / "a.bin").unlink()
    os.mkfifo(entry / "a.bin")
    report = _in_time(lambda: cache.verify(KEY), fifos=[entry / "a.bin"])
    assert not report.ok and any("not a regular file" in p for p in report.problems), report.problems


def test_cli_cache_ls_with_a_fifo_manifest_returns(fifo_manifest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.cli import app

    monkeypatch.setenv("POLARIS_CACHE_DIR", str(fifo_manifest.parents[4]))
    result = _in_time(lambda: CliRunner().invoke(app, ["cache", "ls", "--json"]), fifos=[fifo_manifest])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"


def test_cli_offline_get_with_a_fifo_manifest_returns(fifo_manifest: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.cli import app

    monkeypatch.setenv("POLARIS_CACHE_DIR", str(fifo_manifest.parents[4]))
    args = ["--offline", "datasets", "get", KEY.artifact_id]
    result = _in_time(lambda: CliRunner().invoke(app, args, env={"COLUMNS": "1000"}), fifos=[fifo_manifest])
    assert result.exit_code not in (0, None), result.output
    assert "cache" in result.output.lower(), result.output  # "not in the local cache" (offline), never a hang


# ------------------------------------------------------------------ deleting only inside the cache
def _outside_entry(tmp_path: Path, key: CacheKey) -> Path:
    """An outside folder laid out like a cache tree that holds ``key`` (what a link would lead ``rm`` to)."""
    outside = tmp_path / "precious"
    entry = outside / key.relative_path()
    entry.parent.mkdir(parents=True)
    entry.write_bytes(SECRET)
    entry.with_name(entry.name + ".manifest.json").write_text("{}")
    return outside


def test_symlinked_unverified_folder_does_not_make_rm_delete_outside(cache: DownloadCache, tmp_path: Path) -> None:
    outside = _outside_entry(tmp_path, KEY)
    (cache.root / ".unverified").symlink_to(outside, target_is_directory=True)
    before = sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))
    with pytest.raises(UnsafeCacheError) as err:
        cache.remove(KEY)
    assert "symbolic link" in err.value.reason and ".unverified" in err.value.path
    assert sorted(str(p.relative_to(outside)) for p in outside.rglob("*")) == before
    assert (outside / KEY.relative_path()).read_bytes() == SECRET


def test_symlinked_kind_folder_is_neither_listed_nor_pruned(cache: DownloadCache, tmp_path: Path) -> None:
    cache.fetch(CacheKey("benchmark", "org-a/b", "c" * 32), _write)
    outside = _outside_entry(tmp_path, KEY)
    (cache.root / "dataset").symlink_to(outside / "dataset", target_is_directory=True)
    assert [info.kind for info in cache.entries()] == ["benchmark"]
    cache.prune(older_than=-1)
    assert (outside / KEY.relative_path()).read_bytes() == SECRET
    with pytest.raises(UnsafeCacheError):
        cache.remove(KEY)
    assert (outside / KEY.relative_path()).read_bytes() == SECRET


def test_cli_cache_rm_through_a_symlinked_unverified_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from polaris.cli import app

    monkeypatch.setenv("POLARIS_CACHE_DIR", str(tmp_path / "polaris"))
    cache = DownloadCache()
    cache.fetch(KEY, _write, verified=False)  # first: an unverified fetch is served by a verified entry
    cache.fetch(KEY, _write)
    outside = tmp_path / "precious"
    (cache.root / ".unverified").rename(outside)
    (cache.root / ".unverified").symlink_to(outside, target_is_directory=True)
    result = CliRunner().invoke(app, ["cache", "rm", KEY.artifact_id], env={"COLUMNS": "1000"})
    assert result.exit_code != 0
    said = " ".join(result.output.split())
    assert "symbolic link" in said and ".unverified" in said and "Remove" in said, said
    assert (outside / KEY.relative_path()).read_bytes() == PAYLOAD, "cache rm deleted outside the cache"


# ------------------------------------------------------------------ folders: umask 000, swappable parents
def test_missing_parents_are_created_0700_under_umask_000(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "c" / "data"
    old = os.umask(0)
    try:
        DownloadCache(root).fetch(KEY, _write)
        TokenCache(HUB_URL, folder=tmp_path / "t1" / "t2" / "tokens").save(
            CachedTokens(hub_token={"access_token": "x", "token_type": "Bearer"})
        )
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c", root):
        assert _mode(folder) == 0o700, folder
    for folder in (tmp_path / "t1", tmp_path / "t1" / "t2", tmp_path / "t1" / "t2" / "tokens"):
        assert _mode(folder) == 0o700, folder
    entry = DownloadCache(root).entry(KEY)
    assert _mode(entry) == 0o600
    assert _mode(entry.with_name(entry.name + ".manifest.json")) == 0o600


@pytest.fixture
def open_parent(tmp_path: Path) -> Iterator[Path]:
    """A folder every user may write to, without the sticky bit, holding our own private cache folder."""
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "polaris").mkdir(mode=0o700)
    yield shared
    os.chmod(shared, 0o700)


def test_cache_below_a_folder_writable_by_all_without_sticky_bit_is_refused(open_parent: Path) -> None:
    with pytest.raises(UnsafeCacheError) as err:
        DownloadCache(open_parent / "polaris" / "data")
    assert str(open_parent) in err.value.message and "sticky" in err.value.message
    assert err.value.hint and "chmod" in err.value.hint and "POLARIS_CACHE_DIR" in err.value.hint
    with pytest.raises(UnsafeCacheError):
        TokenCache(HUB_URL, folder=open_parent / "polaris" / "tokens").save(
            CachedTokens(hub_token={"access_token": "x", "token_type": "Bearer"})
        )
    assert os.listdir(open_parent / "polaris") == []


def test_cache_below_a_sticky_folder_writable_by_all_is_accepted(open_parent: Path) -> None:
    os.chmod(open_parent, 0o1777)
    assert DownloadCache(open_parent / "polaris" / "data").fetch(KEY, _write).read_bytes() == PAYLOAD
