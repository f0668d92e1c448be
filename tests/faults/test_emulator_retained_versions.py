"""The durable store of the local Hub keeps an overwritten object's previous version until it may go.

These run :class:`polaris.emulator.disk_store.DiskStore` on a real folder (no emulator process): what an overwrite
leaves in ``retained/``, what a restart finds there, that a prune leaves a version retained again since it listed it,
and that a restore keeps the version it displaces.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from polaris.emulator.disk_store import DamagedObjectError, DiskStore

KEY = "dataset/someone/data/data.zarr/x/0.0"
HEADERS = {"content-type": "application/octet-stream"}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> DiskStore:
    disk = DiskStore(tmp_path / "store")
    disk.open()
    return disk


def test_overwrite_with_other_content_retains_the_previous_version(store: DiskStore) -> None:
    store.write(KEY, [b"old body"], HEADERS)
    store.write(KEY, [b"old body"], HEADERS)  # same content: nothing to keep
    assert store.retained(lambda k: True) == {}
    store.write(KEY, [b"new body"], HEADERS)
    versions = store.retained(lambda k: True)
    assert list(versions) == [KEY] and list(versions[KEY]) == [_md5(b"old body")]
    assert store.read_retained(versions[KEY][_md5(b"old body")]) == b"old body"
    assert store.read(KEY) == b"new body"
    assert store.retained(lambda k: k.startswith("benchmark/")) == {}


def test_a_restart_finds_retained_versions_and_moves_damaged_ones_aside(store: DiskStore, tmp_path: Path) -> None:
    store.write(KEY, [b"v1"], HEADERS)
    store.write(KEY, [b"v2"], HEADERS)
    store.write("dataset/someone/data/table.parquet", [b"t1"], HEADERS)
    store.write("dataset/someone/data/table.parquet", [b"t2"], HEADERS)
    damaged = store.retained(lambda k: k.endswith("table.parquet"))["dataset/someone/data/table.parquet"]
    path = next(iter(damaged.values())).path
    path.write_bytes(path.read_bytes()[:3])

    again = DiskStore(tmp_path / "store")
    report = again.open()
    assert report.objects == 2 and report.retained == 1
    assert list(again.retained(lambda k: True)) == [KEY]
    assert [p.name for p in again.damaged_dir.iterdir()] == [path.name]


def test_prune_leaves_a_version_retained_again_after_it_was_listed(store: DiskStore) -> None:
    store.write(KEY, [b"a"], HEADERS)
    store.write(KEY, [b"b"], HEADERS)  # retains a
    listed = store.retained(lambda k: True)
    store.write(KEY, [b"a"], HEADERS)  # retains b
    store.write(KEY, [b"c"], HEADERS)  # retains a again: newer than the listing
    assert store.prune_retained(listed) == 0
    assert set(store.retained(lambda k: True)[KEY]) == {_md5(b"a"), _md5(b"b")}
    assert store.prune_retained(store.retained(lambda k: True)) == 2
    assert store.retained(lambda k: True) == {} and list(store.retained_dir.iterdir()) == []


def test_restore_puts_a_version_back_and_keeps_the_one_it_displaces(store: DiskStore, tmp_path: Path) -> None:
    store.write(KEY, [b"published"], HEADERS)
    store.write(KEY, [b"acknowledged later"], HEADERS)
    version = store.retained(lambda k: True)[KEY][_md5(b"published")]
    obj, body = store.restore(version)
    assert body == b"published" and obj.md5 == _md5(b"published")
    assert store.read(KEY) == b"published" and store.get(KEY) == obj
    displaced = list(store.displaced_dir.iterdir())
    assert len(displaced) == 1 and displaced[0].read_bytes().startswith(b"acknowledged later")
    assert store.retained(lambda k: True) == {}
    with pytest.raises(DamagedObjectError):
        store.restore(version)  # consumed: its file is the current object now
    # what a restart sees: the restored version is current, nothing retained
    again = DiskStore(tmp_path / "store")
    assert again.open().retained == 0 and again.read(KEY) == b"published"


def test_a_retained_link_left_by_a_kill_is_reused(store: DiskStore, tmp_path: Path) -> None:
    """A kill between the link into ``retained/`` and the rename of the new file leaves a link to the current one."""
    import os

    from polaris.emulator.disk_store import _file_name, _retained_name

    store.write(KEY, [b"current"], HEADERS)
    os.link(store.objects_dir / _file_name(KEY), store.retained_dir / _retained_name(KEY, _md5(b"current")))
    again = DiskStore(tmp_path / "store")
    assert again.open().retained == 1
    again.write(KEY, [b"next"], HEADERS)
    versions = again.retained(lambda k: True)[KEY]
    assert list(versions) == [_md5(b"current")] and again.read_retained(versions[_md5(b"current")]) == b"current"
    assert again.read(KEY) == b"next"
